"""The worker: claim jobs, run them in a thread pool, record what happened.

The main thread owns the loop and every write about outcomes; job threads only run user code
and post their result back. No transaction is open while user code runs: a claim is one
autocommitted statement, and so is each outcome.
"""

from __future__ import annotations

import contextlib
import enum
import inspect
import json
import os
import queue as stdlib_queue
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from app.queue import payload
from app.queue.db.libpq import libpq_conninfo
from app.queue.db.records import ClaimedJob
from app.queue.db.store import JobStore
from app.queue.errors import (
    ClaimRefused,
    DatabaseUnavailable,
    JobTimeout,
    MaxAttemptsExceeded,
    PayloadError,
)
from app.queue.heartbeat import Heartbeat
from app.queue.ids import new_id
from app.queue.interrupt import raise_in_thread
from app.queue.job import Job
from app.queue.listener import Listener
from app.queue.outage import OutageLog
from app.queue.runner import (
    AttemptResult,
    Defaults,
    Outcome,
    call_failed_hook,
    decide_after_error,
    run_attempt,
    timeout_of,
    tries_of,
)
from app.queue.settings import QueueSettings
from app.queue.threads import JobThreads

STUCK_GRACE = 2.0
"""Seconds a sync job may take to unwind after its timeout was raised in its thread."""
TIMEOUT_CHECK_S = 0.01
"""Timeouts are checked at most this often: the check walks every slot, and ran per job."""
TIMED_OUT_ENV = "SKIPLOCK_TIMED_OUT_JOBS"
"""Jobs a restarting worker left reserved because their thread could not be stopped."""
GATHER_WINDOW = 0.002
"""Seconds the worker may wait for more slots to free before claiming (see
Worker._gather_completions): one round trip then serves several slots."""
GATHER_QUIET = 0.0005
"""...but no longer than this after the last job that ended."""


class StopReason(enum.StrEnum):
    SIGNAL = "signal"
    RESTART = "restart signal"
    EMPTY = "queue empty"
    ONCE = "once"
    MAX_JOBS = "max jobs"
    MAX_TIME = "max time"
    MEMORY = "memory limit"
    STUCK_JOB = "stuck job"


@dataclass(frozen=True)
class WorkerOptions:
    queues: tuple[str, ...] = ("default",)
    concurrency: int = 1
    sleep: float = 3.0
    """Fallback poll interval; LISTEN/NOTIFY wakes the worker sooner."""
    tries: int | None = None
    timeout: float | None = None
    backoff: float | None = None
    memory: int | None = None
    """MB of RSS after which the worker exits (checked after each job)."""
    max_jobs: int | None = None
    max_time: float | None = None
    stop_when_empty: bool = False
    once: bool = False
    rest: float = 0.0
    name: str = "default"
    listen: bool = True


@dataclass(frozen=True, slots=True)
class JobEvent:
    """What the worker tells its reporter about a job (the console prints one line each)."""

    state: str  # RUNNING, DONE, RETRY, FAIL
    job_id: str
    class_name: str
    queue: str
    duration: float | None = None
    detail: str | None = None


@dataclass(eq=False, slots=True)
class Slot:
    """A claimed job, from claim to recorded outcome."""

    claimed: ClaimedJob
    job: Job | None = None
    class_name: str = "?"
    thread_id: int | None = None
    deadline: float | None = None
    timeout: float = 0.0
    in_user_code: bool = False
    interrupted: bool = False
    guard: threading.Lock = field(default_factory=threading.Lock)


class Worker:
    def __init__(self, store: JobStore, settings: QueueSettings, options: WorkerOptions,
                 report: Callable[[JobEvent], None] | None = None,
                 log: Callable[[str], None] = lambda line: None) -> None:
        self.store = store
        self.settings = settings
        self.options = options
        # None: nothing prints job lines (--quiet), so no event is built per job.
        self.report = report
        self.log = log
        self.id = new_id()
        self.resolver = payload.JobClassResolver(settings.job_packages)
        self.defaults = Defaults(
            tries=options.tries or settings.max_tries,
            timeout=options.timeout if options.timeout is not None else settings.timeout,
            backoff=options.backoff if options.backoff is not None else settings.retry_delay,
        )
        self.events: stdlib_queue.SimpleQueue[tuple[str, Any]] = stdlib_queue.SimpleQueue()
        self.slots: dict[str, Slot] = {}
        self.acks: list[str] = []
        self.outcomes: deque[tuple[Slot, AttemptResult]] = deque()
        # Job threads put results here, and wake the main thread only when `_wake_at` of them
        # wait: one wake-up per turn, not one per job (each was a thread switch both ways).
        self._done: list[tuple[Slot, AttemptResult]] = []
        self._done_lock = threading.Lock()
        self._wake_at = 1
        self._timeouts_checked = 0.0
        self.processed = 0
        self.failed = 0
        self.stop_reason: StopReason | None = None
        self.outage = OutageLog(self.log)
        self.claim_was_full = False
        """The last claim got every job it asked for: the queue may hold more."""
        self.claim_in_doubt = False
        """The last claim lost its connection: it may have committed reservations unseen."""
        self.claim_refused_since: float | None = None
        self.claim_refused_logged = 0.0
        self.started = time.monotonic()
        # One thread per slot, and two for failed() hooks, which run beside the slots.
        self.pool = JobThreads(options.concurrency + 2, name="skiplock-job")
        # Prepared statements do not survive PgBouncer's transaction pooling, which is what
        # QUEUE_LISTEN=false is for.
        self.claimer = store.claimer(prepare=settings.listen)
        self.heartbeat: Heartbeat | None = None
        self.listener: Listener | None = None
        self._signals = 0

    # ------------------------------------------------------------------------ lifecycle

    def run(self) -> StopReason:
        """Work until a stop condition; return why. Running jobs always finish first."""
        self._install_signal_handlers()
        self._start()
        try:
            self._loop()
        finally:
            self._shutdown()
        assert self.stop_reason is not None
        if self.stop_reason is StopReason.STUCK_JOB:
            self._restart_process()
        return self.stop_reason

    def _start(self) -> None:
        started_at = self._until_database_answers(
            lambda: self.store.register_worker(
                self.id, self.options.name, socket.gethostname(), os.getpid(),
                self.options.queues, self.options.concurrency))
        self.heartbeat = Heartbeat(
            self.store, self.id, started_at, self.settings.retry_after,
            stats=lambda: (len(self.slots), self.processed, self.failed),
            on_restart=lambda: self.request_stop(StopReason.RESTART),
            on_lost_row=self._register_again, log=self.log, outage=self.outage)
        self.heartbeat.start()
        self._record_jobs_left_by_restart()
        if self.options.listen:
            conninfo = libpq_conninfo(self.store.engine.url)
            self.listener = Listener(conninfo, self.options.queues, self.wake, self.outage)
            self.listener.start()
            self.listener.ready.wait(timeout=10)

    def _loop(self) -> None:
        while True:
            self._collect_events(block_for=0)
            self._record_outcomes()
            self._check_limits()
            if self.stop_reason is not None:
                self._try_flush_acks()
                if not self._busy():
                    return
                self._collect_events(block_for=self._wait_time())
                continue
            self._gather_completions()
            claimed = self._claim()
            if self.options.once and (claimed or not self.slots):
                self.request_stop(StopReason.ONCE)
            elif (self.options.stop_when_empty and not claimed and not self.slots
                  and not self._database_down and self.claim_refused_since is None
                  and not self.outcomes):
                self.request_stop(StopReason.EMPTY)
            if self.claim_was_full and len(self.slots) < self.options.concurrency:
                continue  # the queue may hold more: claim again before sleeping
            # Otherwise the queue had no more for now: wait for a job to end or a wake-up (a
            # NOTIFY after the claim's snapshot queues one, so nothing is missed). Claiming
            # again at once would cost a round trip that finds nothing, and would hold the GIL
            # while the jobs just claimed wait to start.
            self._collect_events(block_for=self._wait_time())

    def _gather_completions(self) -> None:
        """Short jobs finish in bursts. Rather than spend a claim round trip on each slot as it
        frees, wait for the running jobs to finish too, for as long as they keep finishing:
        up to GATHER_QUIET after each one, GATHER_WINDOW in all. A long job keeps its slot,
        and the free ones are claimed a quiet spell after the last short job ended."""
        deadline = time.monotonic() + GATHER_WINDOW
        while self.slots and len(self.slots) < self.options.concurrency:
            left = min(deadline - time.monotonic(), GATHER_QUIET)
            if left <= 0:
                return
            running = len(self.slots)
            self._collect_events(block_for=left, wake_at=running)
            self._record_outcomes()
            if len(self.slots) == running:
                return  # none ended in a quiet spell: claim for the free slots now

    def _busy(self) -> bool:
        """Is there anything a stopping worker must still wait for?"""
        running = len(self.slots) - len(self.outcomes) - len(self._stuck_slots())
        if running > 0:
            return True
        # Outcomes not yet written wait for the database, unless it is down: then they are
        # given back by the retry_after rule, as after a crash.
        return bool(self.outcomes or self.acks) and not self._database_down

    def request_stop(self, reason: StopReason) -> None:
        """Stop claiming; the loop ends once running jobs have finished."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.wake()

    def wake(self) -> None:
        self.events.put(("wake", None))

    def _shutdown(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        if self.heartbeat is not None:
            self.heartbeat.stop()
        stuck = self.stop_reason is StopReason.STUCK_JOB
        self.pool.shutdown(wait=not stuck)
        self.claimer.close()
        if not self._database_down:
            try:
                self._flush_acks()
                if self.claim_in_doubt:
                    self._give_back_unseen()
                reason = self.stop_reason.value if self.stop_reason else "stopped"
                self.store.stop_worker(self.id, self.processed, self.failed, reason)
            except DatabaseUnavailable:
                self.log("database unavailable at exit: unrecorded jobs will be given back "
                         f"after QUEUE_RETRY_AFTER ({self.settings.retry_after:g}s)")

    # ---------------------------------------------------------------------------- claim

    def _claim(self) -> list[ClaimedJob]:
        self.claim_was_full = False
        free = self.options.concurrency - len(self.slots)
        if self.options.max_jobs is not None:
            free = min(free, self.options.max_jobs - self.processed - len(self.slots))
        if self.options.once:
            free = min(free, 1)
        try:
            if free <= 0:
                self._flush_acks()
                return []
            if self.options.rest > 0 and self.processed:
                time.sleep(self.options.rest)
            if self.claim_in_doubt:
                self._give_back_unseen()
            # The acknowledgements ride along with the claim: one commit per turn, not two.
            claimed = self.claimer.claim(self.id, self.options.queues, free, self.acks)
        except DatabaseUnavailable as exc:
            self.claim_in_doubt = True
            self._lost_database(exc)
            return []
        except ClaimRefused as exc:
            self._claim_refused(exc)
            return []
        self.acks = []
        self.claim_was_full = len(claimed) == free
        self._database_up()
        if self.claim_refused_since is not None:
            self.log(f"claims work again after {time.monotonic() - self.claim_refused_since:.1f}s")
            self.claim_refused_since = None
            self.claim_refused_logged = 0.0
        for job in claimed:
            slot = Slot(job)
            self.slots[job.id] = slot
            self.pool.submit(self._execute, slot)
        return claimed

    def _give_back_unseen(self) -> None:
        """A claim whose answer was lost may still have committed: its jobs would stay
        reserved by this live worker, never run and never rescued. Give back every
        reservation of ours that we do not hold; they never started, so no attempt counts."""
        given_back = self.store.give_back_unseen(self.id, [*self.slots, *self.acks])
        self.claim_in_doubt = False
        if given_back:
            self.log(f"gave back {len(given_back)} job(s) reserved by a claim whose answer "
                     "was lost with the connection")

    # ------------------------------------------------------------------ in a job thread

    def _execute(self, slot: Slot) -> None:
        try:
            result = self._attempt(slot)
        except BaseException as error:  # noqa: BLE001 - a late timeout, or a bug of ours
            result = decide_after_error(slot.job, error, self.defaults, 0.0) if slot.job \
                else AttemptResult(Outcome.FAIL, error=error, error_text=repr(error))
        with self._done_lock:
            self._done.append((slot, result))
            wake = len(self._done) == self._wake_at
        if wake:
            self.events.put(("done", None))

    def _attempt(self, slot: Slot) -> AttemptResult:
        claimed = slot.claimed
        try:
            job = payload.decode(claimed.payload, self.resolver)
        except PayloadError as error:
            return AttemptResult(Outcome.FAIL, error=error, error_text=f"PayloadError: {error}")
        job.job_id, job.attempts, job._control = claimed.id, claimed.attempts, self
        slot.job, slot.class_name = job, type(job).__qualname__
        tries = tries_of(job, self.defaults)
        if claimed.attempts > tries:
            exceeded = MaxAttemptsExceeded(
                f"{slot.class_name} has been attempted too many times ({claimed.attempts - 1} "
                f"of {tries}); its last attempt ended without an outcome (worker killed?) or "
                "it released itself after its last attempt")
            return AttemptResult(Outcome.FAIL, error=exceeded,
                                 error_text=f"MaxAttemptsExceeded: {exceeded}")
        self._arm_timeout(slot, job)
        if self.report is not None:
            self.events.put(("start", slot))
        try:
            return run_attempt(job, self.defaults)
        finally:
            self._leave_user_code(slot)

    def _arm_timeout(self, slot: Slot, job: Job) -> None:
        slot.timeout = timeout_of(job, self.defaults)
        if slot.timeout > 0:
            # An async handler is cancelled by asyncio at its timeout; the thread-level
            # interrupt is only the backstop for one that blocks its event loop.
            margin = 1.0 if is_async(type(job)) else 0.0
            slot.deadline = time.monotonic() + slot.timeout + margin
        with slot.guard:
            slot.thread_id = threading.get_ident()
            slot.in_user_code = True

    @staticmethod
    def _leave_user_code(slot: Slot) -> None:
        # The timeout may have been raised in this thread just as handle() returned; it is
        # then delivered here, and swallowed: the attempt's result is already decided.
        while True:
            try:
                with slot.guard:
                    slot.in_user_code = False
                return
            except JobTimeout:
                continue

    def progress(self, job_id: str, percent: float, message: str | None) -> None:
        """RunControl for Job.progress(): written at once, from the job's thread. Progress
        is information: an outage loses the update, not the job."""
        with contextlib.suppress(DatabaseUnavailable):
            self.store.set_progress(self.id, job_id, percent, message)

    # ------------------------------------------------------------- back on the main thread

    def _collect_events(self, block_for: float, wake_at: int = 1) -> None:
        """Take finished jobs' results and other events; if there are none, wait up to
        `block_for` seconds for `wake_at` more jobs to finish, or for a wake-up."""
        if not self._take_done(wake_at) and block_for > 0:
            deadline = time.monotonic() + block_for
            with contextlib.suppress(stdlib_queue.Empty):
                while True:
                    kind, item = self.events.get(timeout=max(deadline - time.monotonic(), 0))
                    self._handle_event(kind, item)
                    # A "done" whose results an earlier take got already is stale: waking for
                    # it would send the worker round its loop, and claim, for nothing.
                    if kind != "done" or self._take_done(wake_at):
                        break
            self._take_done(wake_at)
        while True:
            try:
                self._handle_event(*self.events.get_nowait())
            except stdlib_queue.Empty:
                return

    def _take_done(self, wake_at: int) -> bool:
        with self._done_lock:
            done, self._done = self._done, []
            self._wake_at = wake_at
        self.outcomes.extend(done)
        return bool(done)

    def _handle_event(self, kind: str, item: Any) -> None:
        if kind == "start":
            self._report_running(item)

    def _report_running(self, slot: Slot) -> None:
        if self.report is not None:
            self.report(JobEvent("RUNNING", slot.claimed.id, slot.class_name,
                                 slot.claimed.queue))

    def _wait_time(self) -> float:
        wait = self.options.sleep if not self.slots else 1.0
        now = time.monotonic()
        for slot in self.slots.values():
            if slot.deadline is not None:
                target = slot.deadline + (STUCK_GRACE if slot.interrupted else 0.0)
                wait = min(wait, max(target - now, 0.01))
        if self._database_down:
            wait = min(wait, 1.0)
        return max(wait, 0.01)

    def _record_outcomes(self) -> None:
        self._enforce_timeouts()
        if not self.outcomes:
            return
        try:
            while self.outcomes:
                slot, result = self.outcomes[0]
                self._record(slot, result, self.id)
                self.outcomes.popleft()
                del self.slots[slot.claimed.id]
        except DatabaseUnavailable as exc:
            self._lost_database(exc)
            return
        self._database_up()

    def _record(self, slot: Slot, result: AttemptResult, owner: str) -> None:
        """Write the outcome of an attempt of a job reserved by `owner` (this worker, or the
        process this one replaced)."""
        claimed, job = slot.claimed, slot.job
        if slot.interrupted and isinstance(result.error, JobTimeout):
            result = self._as_timeout(slot, result)
        self.processed += 1
        if result.outcome is Outcome.DONE:
            self.acks.append(claimed.id)
        elif result.outcome is Outcome.RETRY:
            if not self.store.release(owner, claimed.id, result.delay, result.error_text):
                return self._report_taken(slot)
        else:
            if not self.store.fail(owner, claimed.id, result.error_text or "failed"):
                return self._report_taken(slot)
            self.failed += 1
            if job is not None and result.error is not None:
                self.pool.submit(self._run_failed_hook, job, result.error)
        if self.report is not None:
            self.report(JobEvent(result.outcome.value, claimed.id, slot.class_name,
                                 claimed.queue, result.duration, _first_line(result)))
        self._check_memory()

    def _report_taken(self, slot: Slot) -> None:
        """The row is no longer ours: this worker was presumed dead and the job given back.
        Its new holder decides what happens to it; this outcome is dropped."""
        self.log(f"{slot.class_name} {slot.claimed.id} was given back while it ran here "
                 "(this worker was presumed dead); its outcome here is dropped")

    def _as_timeout(self, slot: Slot, result: AttemptResult) -> AttemptResult:
        error = JobTimeout(f"{slot.class_name} ran past its timeout of {slot.timeout:g}s")
        assert slot.job is not None
        decided = decide_after_error(slot.job, error, self.defaults, result.duration)
        return AttemptResult(decided.outcome, decided.delay, error,
                             f"JobTimeout: {error}\n\n{result.error_text or ''}", result.duration)

    def _run_failed_hook(self, job: Job, error: BaseException) -> None:
        hook_error = call_failed_hook(job, error)
        if hook_error is not None:
            self.log(f"{type(job).__qualname__}.failed() raised: {hook_error.splitlines()[-1]}")
            with contextlib.suppress(DatabaseUnavailable):
                self.store.append_failure_note(
                    job.job_id or "", f"\n\nThe job's failed() hook raised too:\n{hook_error}")

    def _flush_acks(self) -> None:
        if self.acks:
            self.store.delete(self.id, self.acks)
            self.acks = []

    def _try_flush_acks(self) -> None:
        try:
            self._flush_acks()
        except DatabaseUnavailable as exc:
            self._lost_database(exc)

    # ------------------------------------------------------------------------ timeouts

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        if now - self._timeouts_checked < TIMEOUT_CHECK_S:
            return
        self._timeouts_checked = now
        for slot in list(self.slots.values()):
            if slot.deadline is None or now < slot.deadline:
                continue
            if not slot.interrupted:
                with slot.guard:
                    if slot.in_user_code and slot.thread_id is not None:
                        slot.interrupted = raise_in_thread(slot.thread_id, JobTimeout)
            elif now >= slot.deadline + STUCK_GRACE and slot.in_user_code:
                self.log(f"{slot.class_name} {slot.claimed.id} is stuck past its timeout "
                         "(blocked outside Python); restarting this worker once its other "
                         "jobs finish")
                self.request_stop(StopReason.STUCK_JOB)

    def _stuck_slots(self) -> list[Slot]:
        return [s for s in self.slots.values() if s.interrupted and s.in_user_code]

    def _restart_process(self) -> None:
        """Replace this process with a fresh worker (same pid, same arguments): the only way
        to stop a thread blocked in C. The new process records the timeouts, so a stuck job
        is never released while its code could still be running."""
        stuck = [{"id": s.claimed.id, "worker": self.id, "timeout": s.timeout}
                 for s in self._stuck_slots()]
        env = {**os.environ, TIMED_OUT_ENV: json.dumps(stuck)}
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, sys.orig_argv, env)

    def _record_jobs_left_by_restart(self) -> None:
        raw = os.environ.pop(TIMED_OUT_ENV, None)
        for entry in json.loads(raw) if raw else []:
            self._until_database_answers(partial(self._record_left_timeout, entry))

    def _record_left_timeout(self, entry: dict[str, Any]) -> None:
        claimed = self.store.reserved_job(entry["id"], entry["worker"])
        if claimed is not None:
            slot = Slot(claimed, interrupted=True, timeout=float(entry["timeout"]))
            try:
                slot.job = payload.decode(claimed.payload, self.resolver)
            except PayloadError:
                return
            slot.job.job_id, slot.job.attempts = claimed.id, claimed.attempts
            slot.class_name = type(slot.job).__qualname__
            result = self._as_timeout(slot, AttemptResult(Outcome.FAIL, error=JobTimeout()))
            self._record(slot, result, owner=entry["worker"])
        self.store.stop_worker(entry["worker"], 0, 0, StopReason.STUCK_JOB.value)

    # -------------------------------------------------------------------------- limits

    def _check_limits(self) -> None:
        if self.stop_reason is not None:
            return
        if self.options.max_jobs is not None and self.processed >= self.options.max_jobs:
            self.request_stop(StopReason.MAX_JOBS)
        elif (self.options.max_time is not None
              and time.monotonic() - self.started >= self.options.max_time):
            self.request_stop(StopReason.MAX_TIME)

    def _check_memory(self) -> None:
        if self.options.memory is not None and rss_megabytes() >= self.options.memory:
            self.request_stop(StopReason.MEMORY)

    # -------------------------------------------------------------------------- outages

    @property
    def _database_down(self) -> bool:
        """This worker's own connection cannot reach the database (the claim or an outcome
        write failed and has not succeeded since)."""
        return self.outage.is_down("worker")

    def _lost_database(self, exc: DatabaseUnavailable) -> None:
        self.outage.down("worker", exc)

    def _claim_refused(self, exc: ClaimRefused) -> None:
        """The database refused the claim (the acknowledgements with it, so they are kept).
        Running jobs go on; claiming is retried every second, logged once a minute."""
        now = time.monotonic()
        if self.claim_refused_since is None:
            self.claim_refused_since = now
        if now - self.claim_refused_logged >= 60:
            self.claim_refused_logged = now
            self.log(f"the database refused the claim: {exc}; retrying every second")
        self._collect_events(block_for=1.0)

    def _database_up(self) -> None:
        self.outage.up("worker")

    def _until_database_answers(self, call: Callable[[], Any]) -> Any:
        delay = 0.5
        while True:
            try:
                result = call()
            except DatabaseUnavailable as exc:
                if self.stop_reason is not None:
                    raise
                self._lost_database(exc)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._database_up()
            return result

    def _register_again(self) -> None:
        self.store.register_worker(self.id, self.options.name, socket.gethostname(),
                                   os.getpid(), self.options.queues, self.options.concurrency)

    # -------------------------------------------------------------------------- signals

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signals += 1
        if signum == signal.SIGINT and self._signals > 1:
            # A second Ctrl-C: leave now. Reservations come back via QUEUE_RETRY_AFTER.
            os._exit(130)
        self.stop_reason = self.stop_reason or StopReason.SIGNAL
        self.events.put(("wake", None))


_async_handlers: dict[type, bool] = {}


def is_async(cls: type[Job]) -> bool:
    """Is the class's handle() an `async def`? (Asked for every job: cached per class.)"""
    found = _async_handlers.get(cls)
    if found is None:
        found = _async_handlers[cls] = inspect.iscoroutinefunction(cls.handle)
    return found


def _first_line(result: AttemptResult) -> str | None:
    if result.error is None:
        return None
    name = type(result.error).__name__
    try:
        text = str(result.error).strip().splitlines()
    except Exception:  # noqa: BLE001 - a job's exception whose __str__ raises
        return f"{name}: <its message could not be printed>"
    return f"{name}: {text[0]}" if text else name


def rss_megabytes() -> float:
    """Resident memory of this process now (not the peak, which never comes down)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


__all__ = ["JobEvent", "StopReason", "Worker", "WorkerOptions"]
