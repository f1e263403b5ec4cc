"""The worker: claim jobs, run them in a thread pool, record what happened.

The main thread owns the loop and every write about outcomes; job threads only run user code
and post their result back. No transaction is open while user code runs: a claim is one
autocommitted statement, and so is each outcome.
"""

from __future__ import annotations

import contextlib
import enum
import heapq
import os
import queue as stdlib_queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from typing import Any

from app.queue import cancellation, job_events, payload, process
from app.queue.admin import QueueAdmin
from app.queue.bus.batch import announce_finished
from app.queue.db.libpq import libpq_conninfo
from app.queue.db.records import ClaimedJob
from app.queue.db.store import JobStore
from app.queue.errors import (
    ClaimRefused,
    DatabaseUnavailable,
    JobTimeout,
    MaxAttemptsExceeded,
    PayloadError,
    QueueDatabaseError,
)
from app.queue.event_loop import JobLoop
from app.queue.heartbeat import Heartbeat
from app.queue.hooks import HOOK_ENDED, FailedHooks
from app.queue.ids import new_id
from app.queue.job import Job
from app.queue.listener import Listener
from app.queue.metrics import MetricsRecorder, MetricsStore
from app.queue.outage import (
    REFUSED_WRITE_ERRORS,
    OutageLog,
    RefusedOutcomes,
    WorkerLink,
    first_line,
)
from app.queue.resolver import JobClassResolver
from app.queue.runner import (
    AttemptResult,
    Defaults,
    Outcome,
    decide_after_error,
    run_attempt,
    start_attempt,
    timeout_of,
    tries_of,
    uses_middleware,
)
from app.queue.settings import QueueSettings
from app.queue.signals import StopSignals
from app.queue.slot import Slot
from app.queue.threads import JobThreads
from app.queue.timeouts import Timeouts, is_async
from app.queue.vacuum import BloatGuard

CANCEL = "cancel"
"""The event that tells the main thread a job it runs was cancelled."""
GATHER_WINDOW = 0.002
"""Seconds the worker may wait for more slots to free before claiming (see
Worker._gather_completions): one round trip then serves several slots."""
GATHER_QUIET = 0.0005
"""...but no longer than this after the last job that ended."""
PREFETCH = 4
"""Jobs a one-slot worker claims ahead of the one it runs (see Worker._claim_ahead). A claim
round trip (and its commit) per job cost a default worker 0.37 ms of CPU per no-op job;
claiming five at a time, 0.17 ms, and its drain went from 177 to 684 jobs/s (queue:bench
--figures default_worker, medians of three runs alternated old/new on a busy machine)."""
PREFETCH_HOLD_S = 0.02
"""A job still running after this long sends the jobs claimed ahead of it back to the queue,
where other workers can take them, and the worker stops claiming ahead until a job ends
within it again: a slow job never hoards."""
MAX_CLAIM = 100
"""Jobs one claim takes at most. A claim of 500 (--concurrency 500) kept the server ~16 ms,
so 500 I/O-bound jobs started together, ended together and waited together for the next
claim: every slot idle ~30 ms of each ~80 ms cycle. Claims of 100 start them in staggered
groups that stay staggered: 10,000 jobs awaiting asyncio.sleep(0.05) at --concurrency 500,
7,393-8,098 jobs/s against 5,607-6,251 (3 alternated runs each, quiet machine,
2026-11-28). The price: a no-op async job at 500 drains 8,520-9,736 against 12,248-12,288
(more round trips); at --concurrency 100 or less nothing changes."""
NO_KEY_DELAY = 10.0
"""Seconds an encrypted job that a worker without APP_KEY claimed waits before it is due
again: long enough not to spin on it, short enough for a worker with the key to run it soon."""
MAX_CONCURRENCY = 1000
"""Slots one worker process may run. Each running a plain job is an OS thread: 1,000 start
in ~0.7 s and reserve ~9 GB of address space (8 MB of stack each, ~72 MB resident), and
`--concurrency 100000` spent 11 s and 611 MB before the OS refused a thread. Past a few
hundred threads the GIL, not the slots, is the limit: more processes serve better."""


class StopReason(enum.StrEnum):
    SIGNAL = "signal"
    RESTART = "restart signal"
    EMPTY = "queue empty"
    ONCE = "once"
    MAX_JOBS = "max jobs"
    MAX_TIME = "max time"
    MEMORY = "memory limit"
    STUCK_JOB = "stuck job"
    PAUSED = "queues paused"
    """--stop-when-empty found nothing to claim, but a paused queue of its holds jobs."""


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

    state: str  # RUNNING, DONE, RETRY, LIMITED, FAIL
    job_id: str
    class_name: str
    queue: str
    duration: float | None = None
    detail: str | None = None
    attempt: int = 0


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
        self.resolver = JobClassResolver(settings.job_packages)
        self.defaults = Defaults(
            tries=options.tries or settings.max_tries,
            timeout=options.timeout if options.timeout is not None else settings.timeout,
            backoff=options.backoff if options.backoff is not None else settings.retry_delay,
        )
        self.events: stdlib_queue.SimpleQueue[tuple[str, Any]] = stdlib_queue.SimpleQueue()
        self.slots: dict[str, Slot] = {}
        self.ahead: deque[Slot] = deque()
        """Claimed ahead (in `slots` too), not yet handed to a job thread. Taken from under
        `_ahead_lock`: a one-slot worker's job thread takes the next itself (_next_ahead)."""
        self._ahead_lock = threading.Lock()
        self._loop_classes: dict[str, bool] = {}
        """Class path -> may its jobs start on the event loop (see _starts_on_loop)."""
        self._ahead_at = 0.0
        """When the running job last changed: a job older than PREFETCH_HOLD_S is slow."""
        self._fast = True
        """The last job ended within PREFETCH_HOLD_S: claiming ahead pays."""
        self._members_claimed = False
        """The last claim took members of a batch: they are not claimed ahead."""
        self.acks: list[str] = []
        self.acks_carry_on = False
        """A member of a chain or batch is among `acks`: the claim that sends them may enqueue
        its next step or a callback, which that claim cannot see yet."""
        self.outcomes: deque[tuple[Slot, AttemptResult]] = deque()
        # Job threads put results here, and wake the main thread only when `_wake_at` of them
        # wait: one wake-up per turn, not one per job (each was a thread switch both ways).
        self._done: list[tuple[Slot, AttemptResult]] = []
        self._done_lock = threading.Lock()
        self._wake_at = 1
        self.processed = 0
        self.failed = 0
        self.stop_reason: StopReason | None = None
        self.outage = OutageLog(self.log)
        self.link = WorkerLink(store, self.id, self.outage, self.log)
        self.refused = RefusedOutcomes(self.log)
        self.timeouts = Timeouts(self.defaults, self.log,
                                 on_stuck=lambda: self.request_stop(StopReason.STUCK_JOB))
        self.timeouts.watch(self.slots)
        self.claim_was_full = False
        """The last claim got every job it asked for, or its acknowledgements may have
        enqueued jobs (acks_carry_on): the queue may hold more."""
        self.started = time.monotonic()
        # Up to a thread per slot (started as plain jobs need them), and two for failed()
        # hooks, which run beside the slots.
        self.pool = JobThreads(options.concurrency + 2, name="skiplock-job")
        self.job_loop = JobLoop(self.defaults, name="skiplock-loop")
        self.hooks = FailedHooks(store, self.pool, self.timeouts, self.events, self.log)
        self.signals = StopSignals(on_stop=lambda: self.request_stop(StopReason.SIGNAL),
                                   give_back=self._give_back_all, log=self.log)
        # Prepared statements do not survive PgBouncer's transaction pooling, which is what
        # QUEUE_LISTEN=false is for.
        self.claimer = store.claimer(prepare=settings.listen)
        # Counted per job in memory, written by the heartbeat thread: never a write per job.
        self.metrics = MetricsRecorder(settings.metrics_days)
        self.metrics_store = MetricsStore(store.engine)
        self._metrics_refused = False
        self.bloat = BloatGuard(store, settings.vacuum_every, self.log)
        self.heartbeat: Heartbeat | None = None
        self.listener: Listener | None = None
        self._announced_wait = False
        self._limited_due: list[float] = []
        """When the jobs this worker put back for a limit are due (monotonic, a heap)."""
        self._said_no_key: set[str] = set()
        """Classes of encrypted jobs this worker, without APP_KEY, said it puts back."""

    # ------------------------------------------------------------------------ lifecycle

    def run(self) -> StopReason:
        """Work until a stop condition; return why. Running jobs always finish first."""
        process.guard_forks()
        self.signals.install()
        self._start()
        try:
            self._loop()
        finally:
            self._shutdown()
        assert self.stop_reason is not None
        if self.stop_reason is StopReason.STUCK_JOB:
            self.timeouts.restart_process(self.id, self._stuck())
        return self.stop_reason

    def _start(self) -> None:
        started_at = self._until_database_answers(
            lambda: self.store.register_worker(
                self.id, self.options.name, socket.gethostname(), os.getpid(),
                self.options.queues, self.options.concurrency))
        self.heartbeat = Heartbeat(
            self.store, self.id, started_at, self.settings.retry_after,
            stats=lambda: (self._running(), self.processed, self.failed),
            on_restart=lambda: self.request_stop(StopReason.RESTART),
            on_lost_row=self._register_again, log=self.log, outage=self.outage,
            on_beat=self._after_beat, on_cancelled=self.cancelled)
        self.heartbeat.start()
        job_events.worker_starting(self.id, self.options.name, self.options.queues)
        self.timeouts.record_jobs_left_by_restart(self.store, self.resolver, self._record,
                                                  self._until_database_answers)
        if self.options.listen:
            conninfo = libpq_conninfo(self.store.engine.url)
            self.listener = Listener(conninfo, self.options.queues, self.wake, self.outage,
                                     on_cancel=self._cancel_heard)
            self.listener.start()
            self.listener.ready.wait(timeout=10)

    def _loop(self) -> None:
        while True:
            self._collect_events(block_for=0)
            self._record_outcomes()
            self._start_ahead()
            self._check_limits()
            if self.stop_reason is not None:
                self._give_back_ahead()
                self._try_flush_acks()
                if not self._busy():
                    return
                self._announce_wait()
                self._collect_events(block_for=self._wait_time())
                continue
            self._gather_completions()
            claimed = self._claim() if self._wants_jobs() else []
            if self.options.once and (claimed or not self.slots):
                self.request_stop(StopReason.ONCE)
            elif (self.options.stop_when_empty and not claimed and not self.claim_was_full
                  and self._idle()):
                self.request_stop(self._why_nothing_to_claim())
            if self.claim_was_full and self._running() < self.options.concurrency:
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
        while self.slots and len(self.slots) < self.options.concurrency and not self.ahead:
            left = min(deadline - time.monotonic(), GATHER_QUIET)
            if left <= 0:
                return
            running = len(self.slots)
            self._collect_events(block_for=left, wake_at=running)
            self._record_outcomes()
            if len(self.slots) == running:
                return  # none ended in a quiet spell: claim for the free slots now

    def _idle(self) -> bool:
        """Nothing running, nothing to write, and the database answering: an empty claim
        then means the queues are empty (or paused)."""
        return not (self.slots or self.outcomes or self.refused.held or self.link.down
                    or self.link.claim_refused_since is not None)

    def _why_nothing_to_claim(self) -> StopReason:
        """Empty, or paused: saying "queue empty" while a paused queue holds jobs would lie."""
        try:
            paused = sorted(set(self.store.paused_queues()).intersection(self.options.queues))
            waiting = {stats.queue: stats.pending
                       for stats in QueueAdmin(self.store.engine).status(paused)
                       if stats.queue in paused and stats.pending} if paused else {}
        except DatabaseUnavailable:
            return StopReason.EMPTY
        if not waiting:
            return StopReason.EMPTY
        self.log("nothing to claim, but paused with jobs waiting: "
                 + ", ".join(f"{queue} ({n:,})" for queue, n in waiting.items())
                 + " (queue:resume QUEUE lets workers claim them)")
        return StopReason.PAUSED

    def _busy(self) -> bool:
        """Is there anything a stopping worker must still wait for?"""
        in_flight = len(self.slots) - len(self.outcomes) + len(self.hooks.running)
        if in_flight > len(self._stuck()):
            return True
        # Outcomes not yet written wait for the database, unless it is down: then they are
        # given back by the retry_after rule, as after a crash.
        return bool(self.outcomes or self.acks) and not self.link.down

    def _stuck(self) -> list[Slot]:
        """Jobs and hooks blocked outside Python past their timeout: nothing will end them."""
        return [slot for slot in chain(self.slots.values(), self.hooks.running.values())
                if Timeouts.is_stuck(slot)]

    def request_stop(self, reason: StopReason) -> None:
        """Stop claiming; the loop ends once running jobs have finished."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.wake()

    def wake(self) -> None:
        self.events.put(("wake", None))

    def _announce_wait(self) -> None:
        """Say at once what a stopping worker waits for: silence until a long job ends looks
        like a hang, and invites a kill -9."""
        if self._announced_wait:
            return
        self._announced_wait = True
        line = self.signals.waiting_line(
            str(self.stop_reason),
            (slot for slot in chain(self.slots.values(), self.hooks.running.values())
             if (slot.in_user_code and not slot.stuck) or slot.thread_id is None))
        if line is not None:
            self.log(line)

    def _shutdown(self) -> None:
        job_events.worker_stopping(self.id, self.options.name, self.options.queues,
                                   self.stop_reason.value if self.stop_reason else "stopped")
        if self.listener is not None:
            self.listener.stop()
        if self.heartbeat is not None:
            self.heartbeat.stop()
        # A thread still in user code is stuck (a stopping worker waited for the others):
        # joining it would never return.
        in_user_code = any(slot.in_user_code
                           for slot in chain(self.slots.values(), self.hooks.running.values()))
        self.pool.shutdown(wait=not in_user_code)
        self.job_loop.stop(wait=not in_user_code)
        if not self.link.down:
            try:
                self._flush_acks()
                if self.link.claim_in_doubt:
                    self.link.give_back_unseen(self._held_ids())
                reason = self.stop_reason.value if self.stop_reason else "stopped"
                self.store.stop_worker(self.id, self.processed, self.failed, reason)
                self._flush_metrics()
            except DatabaseUnavailable:
                self.log("database unavailable at exit: unrecorded jobs will be given back "
                         f"after QUEUE_RETRY_AFTER ({self.settings.retry_after:g}s)")
            except REFUSED_WRITE_ERRORS as exc:
                self.log(f"could not record this worker's stop: {first_line(exc)}")
        self.claimer.close()
        if self.refused.held:
            self.log(f"{len(self.refused.held)} outcome(s) the database refused are not "
                     "recorded: their jobs stay reserved until QUEUE_RETRY_AFTER "
                     f"({self.settings.retry_after:g}s) gives them back")

    # ---------------------------------------------------------------------------- claim

    def _claim(self) -> list[ClaimedJob]:
        self.claim_was_full = False
        free = self.options.concurrency + self._claim_ahead() - len(self.slots)
        if self.options.max_jobs is not None:
            free = min(free, self.options.max_jobs - self.processed - len(self.slots))
        if self.options.once:
            free = min(free, 1)
        free = min(free, MAX_CLAIM)
        try:
            if free <= 0:
                self._flush_acks()
                return []
            if self.options.rest > 0 and self.processed:
                time.sleep(self.options.rest)
            if self.link.claim_in_doubt:
                self.link.give_back_unseen(self._held_ids())
            # The acknowledgements ride along with the claim: one commit per turn, not two.
            claimed = self.claimer.claim(self.id, self.options.queues, free, self.acks,
                                         self.acks_carry_on)
        except DatabaseUnavailable as exc:
            self.link.claim_lost(exc)
            return []
        except ClaimRefused as exc:
            self.link.claim_refused(exc)
            self._collect_events(block_for=1.0)
            return []
        self.acks = []
        self._announce_finished_batches()
        # Full, or jobs may have been enqueued: the queue may hold more.
        self.claim_was_full = len(claimed) == free or self.acks_carry_on
        self.acks_carry_on = False
        self.link.claim_answered()
        for job in claimed:
            slot = Slot(job, cancelled=job.cancelled)
            self.slots[job.id] = slot
            self.ahead.append(slot)
        self._start_ahead()
        # A batch cancelled while its members wait here could not remove them (they are
        # reserved) and they would run: members are never held ahead. They go back at once,
        # and the next claim takes one job, until one is not a member.
        self._members_claimed = any(job.batch_id is not None for job in claimed)
        if self._members_claimed and self.ahead:
            self._give_back_ahead()
        return claimed

    def _held_ids(self) -> list[str]:
        """Every job this worker holds a reservation for, whatever stage it is at."""
        return [*self.slots, *self.acks, *self.refused.held]

    # ------------------------------------------------------------------- claim ahead

    def _running(self) -> int:
        return len(self.slots) - len(self.ahead)

    def _claim_ahead(self) -> int:
        """How many jobs to claim beyond the free slots: PREFETCH for a one-slot worker (a
        claim for several slots serves several jobs a round trip already); none while jobs
        are slow, when --once or --max-jobs will stop the worker before it could run them,
        or with --rest (it rests before each claim, so between jobs)."""
        o = self.options
        if o.concurrency > 1 or not self._fast or o.once or o.max_jobs is not None \
                or o.rest > 0 or self._members_claimed:
            return 0
        return PREFETCH

    def _wants_jobs(self) -> bool:
        """Claim when a slot is free, or when nothing is left claimed ahead: then the round
        trip overlaps the running job rather than following it."""
        return self._running() < self.options.concurrency or not self.ahead

    def _start_ahead(self) -> None:
        """Hand claimed jobs to job threads while slots are free; give back the rest if the
        running job turned out slow. A stopping worker starts none: it gives them back."""
        if not self.ahead or self.stop_reason is not None:
            return
        if self._running() < self.options.concurrency:
            on_loop: list[Slot] = []
            with self._ahead_lock:
                while self.ahead and self._running() < self.options.concurrency:
                    slot = self.ahead.popleft()
                    if self._starts_on_loop(slot):
                        on_loop.append(slot)
                    else:
                        self.pool.submit(self._execute, slot)
                self._ahead_at = time.monotonic()
            if on_loop:
                self.job_loop.start_each(on_loop, self._begin_on_loop)
        elif time.monotonic() - self._ahead_at >= PREFETCH_HOLD_S:
            self._fast = False
            self._give_back_ahead()

    def _give_back_ahead(self) -> None:
        """Jobs claimed ahead go back to the queue unstarted, their attempt not counted. If
        the database does not answer, QUEUE_RETRY_AFTER gives them back, as after a crash."""
        with self._ahead_lock:
            given_back = [self.slots.pop(slot.claimed.id) for slot in self.ahead]
            self.ahead.clear()
        if not given_back:
            return
        try:
            self.store.release_unstarted(self.id, [slot.claimed.id for slot in given_back])
            self.store.notify(sorted({slot.claimed.queue for slot in given_back}))
        except DatabaseUnavailable as exc:
            self.link.lost(exc)

    def _starts_on_loop(self, slot: Slot) -> bool:
        """Can the job skip the job thread and start on the event loop's own? An `async def`
        job (its class read off the payload's text, resolved here the first time: an import
        from the job packages, once per class) without middleware, while nobody listens for
        JobProcessing (listeners run on job threads, never on the loop all async jobs share).
        A payload that names no class it may run goes to a job thread, whose decode fails it."""
        path = payload.class_path_of(slot.claimed.payload)
        if path is None:
            return False
        on_loop = self._loop_classes.get(path)
        if on_loop is None:
            try:
                cls = self.resolver.resolve(path)
            except BaseException:  # noqa: BLE001 - a module that exits as it is imported, too
                return False
            on_loop = self._loop_classes[path] = (
                is_async(cls) and cls.middleware is Job.middleware)
        return on_loop and not slot.cancelled and not job_events.processing_heard()

    # ------------------------------------------------------------------ in a job thread

    def _execute(self, slot: Slot) -> None:
        job: Slot | None = slot
        while job is not None:
            try:
                result = self._attempt(job)
            except BaseException as error:  # noqa: BLE001 - a late timeout, or a bug of ours
                result = self._error_result(job, error)
            if result is None:
                return  # an async job, running on the event loop
            # Taken before the result is posted: the main thread, once it has recorded it,
            # then finds this slot busy and starts nothing beside it.
            after = self._next_ahead()
            self._post(job, result)
            job = after

    def _next_ahead(self) -> Slot | None:
        """On a one-slot worker's job thread, after a job: the next job claimed ahead, taken
        here rather than handed over by the main thread, which cost two thread switches a
        job. None when there is none, or the worker is stopping or about to (--max-time or
        --memory reached: the main thread stops it once it sees this job's outcome)."""
        o = self.options
        if o.concurrency != 1 or (
                o.max_time is not None and time.monotonic() - self.started >= o.max_time) or (
                o.memory is not None and rss_megabytes() >= o.memory):
            return None
        with self._ahead_lock:
            if not self.ahead or self.stop_reason is not None:
                return None
            self._ahead_at = time.monotonic()
            return self.ahead.popleft()

    def _error_result(self, slot: Slot, error: BaseException) -> AttemptResult:
        return decide_after_error(slot.job, error, self.defaults, 0.0) if slot.job \
            else AttemptResult(Outcome.FAIL, error=error, error_text=repr(error))

    def _post(self, slot: Slot, result: AttemptResult) -> None:
        """From a job thread, or the event loop's: the main thread records the outcome."""
        with self._done_lock:
            self._done.append((slot, result))
            wake = len(self._done) == self._wake_at
        if wake:
            self.events.put(("done", None))

    def _attempt(self, slot: Slot) -> AttemptResult | None:
        """The attempt's result; None for an async job, whose task on the shared event loop
        posts its result when it ends."""
        job = self._job_of(slot)
        if isinstance(job, AttemptResult):
            return job
        claimed = slot.claimed
        self.timeouts.arm_attempt(slot, job)
        if self.report is not None:
            self.events.put(("start", slot))
        job_events.processing(claimed, job)
        if is_async(type(job)) and not uses_middleware(job) and not slot.cancelled:
            coroutine = start_attempt(job)
            self.job_loop.run(slot, job, coroutine, timeout_of(job, self.defaults), self._post)
            return None
        try:
            if slot.cancelled:
                return cancellation.NOT_RUN
            result = run_attempt(job, self.defaults)
            if process.in_forked_child:  # the job forked, and its child returned here
                process.leave_forked_child(0 if result.outcome is Outcome.DONE else 1)
            return result
        finally:
            self.timeouts.leave_user_code(slot)

    def _job_of(self, slot: Slot) -> Job | AttemptResult:
        """The claimed job, decoded and ready to run; or the failed result of a row that
        cannot run (a bad payload, no attempt left)."""
        claimed = slot.claimed
        try:
            job = payload.decode(claimed.payload, self.resolver)
        except payload.KeyMissing as error:
            slot.class_name = error.class_name
            return self._without_key(error)
        except PayloadError as error:
            return AttemptResult(Outcome.FAIL, error=error, error_text=f"PayloadError: {error}")
        job.job_id, job.attempts, job._control = claimed.id, claimed.attempts, self
        if claimed.batch_id is not None or claimed.chain_id is not None:
            job.batch_id, job.chain_id = claimed.batch_id, claimed.chain_id
        slot.job, slot.class_name = job, type(job).__qualname__
        tries = tries_of(job, self.defaults)
        if claimed.attempts > tries:
            exceeded = MaxAttemptsExceeded(
                f"{slot.class_name} has been attempted too many times ({claimed.attempts - 1} "
                f"of {tries}); its last attempt ended without an outcome (worker killed?) or "
                "it released itself after its last attempt")
            return AttemptResult(Outcome.FAIL, error=exceeded,
                                 error_text=f"MaxAttemptsExceeded: {exceeded}")
        return job

    def _without_key(self, error: payload.KeyMissing) -> AttemptResult:
        """An encrypted job, and no APP_KEY here: put back without using up an attempt, for
        a worker with the key, rather than failed for good; this worker goes on with its
        plain jobs. Said once per class."""
        if error.class_name not in self._said_no_key:
            self._said_no_key.add(error.class_name)
            self.log(f"{error}: its jobs are put back for {NO_KEY_DELAY:g}s each time, their "
                     "attempts not counted (give this worker APP_KEY, or leave their queue to a "
                     "worker that has it)")
        return AttemptResult(Outcome.LIMITED, delay=NO_KEY_DELAY, error_text=str(error))

    # ---------------------------------------------------------- on the event loop's thread

    def _begin_on_loop(self, slot: Slot) -> None:
        """An async job the main thread handed to the loop (see _starts_on_loop): decode it
        and start its task. Never raises: what goes wrong is the job's result."""
        try:
            job = self._job_of(slot)
            if isinstance(job, AttemptResult):
                self._post(slot, job)
                return
            if self.report is not None:
                self.events.put(("start", slot))
            self.job_loop.begin(slot, job, start_attempt(job), timeout_of(job, self.defaults),
                                self._post, arm=self.timeouts.arm_attempt)
        except BaseException as error:  # noqa: BLE001 - a bug of ours, or of handle()'s call
            self._post(slot, self._error_result(slot, error))

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
        elif kind == HOOK_ENDED:
            self.hooks.ended(item)
        elif kind == CANCEL:
            self._stop_cancelled(item)

    def cancelled(self, job_id: str) -> None:
        """From the listener or heartbeat thread: `job_id`, reserved by this worker, was
        cancelled. The main thread stops it (it owns the slots)."""
        self.events.put((CANCEL, job_id))

    def _cancel_heard(self, note: str) -> None:
        """A CANCEL_CHANNEL notification, `<worker id> <job id>`: every worker hears all."""
        worker_id, _, job_id = note.partition(" ")
        if worker_id == self.id:
            self.cancelled(job_id)

    def _stop_cancelled(self, job_id: str) -> None:
        slot = self.slots.get(job_id)
        if slot is not None and cancellation.stop(slot):
            self.log(f"{slot.what} was cancelled: stopping it")

    def _report_running(self, slot: Slot) -> None:
        if self.report is not None:
            self.report(JobEvent("RUNNING", slot.claimed.id, slot.class_name,
                                 slot.claimed.queue, attempt=slot.claimed.attempts))

    def _wake_by(self, delay: float) -> None:
        """Claim again when a job held back by a limit is due: no NOTIFY announces it."""
        heapq.heappush(self._limited_due, time.monotonic() + delay)

    def _next_limited_due(self) -> float:
        """Seconds until the next job this worker held back is due (or +inf)."""
        now = time.monotonic()
        while self._limited_due and self._limited_due[0] <= now:
            heapq.heappop(self._limited_due)
        return self._limited_due[0] - now if self._limited_due else float("inf")

    def _wait_time(self) -> float:
        wait = self.options.sleep if not (self.slots or self.hooks.running) else 1.0
        if self.ahead:
            wait = min(wait, self._ahead_at + PREFETCH_HOLD_S - time.monotonic())
        wait = self.timeouts.wait_bound(wait)
        if self._limited_due:
            wait = min(wait, self._next_limited_due())
        if self.link.down or self.refused.held:
            wait = min(wait, 1.0)
        return max(wait, 0.01)

    # ------------------------------------------------------------------------- record

    def _record_outcomes(self) -> None:
        self.timeouts.enforce()
        if not self.outcomes and not (self.refused.held and self.refused.due()):
            return
        try:
            while self.outcomes:
                slot, result = self.outcomes[0]
                self._record_or_hold(slot, result)
                self.outcomes.popleft()
                del self.slots[slot.claimed.id]
            if self.refused.due():
                self._record_refused()
        except DatabaseUnavailable as exc:
            self.link.lost(exc)
            return
        self.link.answered()

    def _record_or_hold(self, slot: Slot, result: AttemptResult) -> None:
        try:
            self._record(slot, result, self.id)
        except DatabaseUnavailable:
            raise  # an outage: the outcome waits in line for the database to be back
        except REFUSED_WRITE_ERRORS as exc:
            self.refused.hold(slot, result, exc)

    def _record_refused(self) -> None:
        for slot, result in self.refused.outcomes():
            try:
                self._record(slot, result, self.id)
            except DatabaseUnavailable:
                raise
            except REFUSED_WRITE_ERRORS:
                self.refused.retry_later()
                return
            self.refused.written(slot.claimed.id)

    def _record(self, slot: Slot, result: AttemptResult, owner: str) -> None:
        """Write the outcome of an attempt of a job reserved by `owner` (this worker, or the
        process this one replaced)."""
        if slot.cancelled and result.outcome is not Outcome.DONE:
            result = cancellation.as_cancelled(result)
        elif slot.interrupted and isinstance(result.error, JobTimeout):
            result = self.timeouts.as_timeout(slot, result)
        still_ours = self._write(slot.claimed, result, owner)
        self.processed += 1
        if not still_ours:
            return self._report_taken(slot)
        if result.outcome is Outcome.FAIL:
            self.failed += 1
            if slot.job is not None and result.error is not None:
                self.hooks.start(slot, result.error)
        claimed = slot.claimed
        self._fast = result.duration < PREFETCH_HOLD_S
        if result.outcome is not Outcome.LIMITED:  # held back: it did not run
            self.metrics.add(claimed.queue, slot.class_name, result.duration, claimed.waited,
                             result.outcome is Outcome.FAIL)
        if self.report is not None:
            self.report(JobEvent(result.outcome.value, claimed.id, slot.class_name,
                                 claimed.queue, result.duration,
                                 job_events.error_line(result.error), claimed.attempts))
        job_events.outcome(claimed, slot.class_name, slot.job, result)
        self._check_memory()

    def _after_beat(self) -> None:
        self._flush_metrics()
        self.bloat.check()

    def _flush_metrics(self) -> None:
        """From the heartbeat thread, after each beat: one write for everything counted since
        the last. An outage is the heartbeat's to handle (the counts wait for the next beat);
        any other refusal (no queue_metrics table) is logged once and never stops heartbeats."""
        try:
            self.metrics.flush(self.metrics_store)
        except DatabaseUnavailable:
            raise
        except QueueDatabaseError as exc:
            if not self._metrics_refused:
                self._metrics_refused = True
                self.log(f"cannot write the per-minute metrics: {first_line(exc)}")

    def _write(self, claimed: ClaimedJob, result: AttemptResult, owner: str) -> bool:
        """False if the row is no longer `owner`'s. A done job is deleted by the next claim."""
        if result.outcome is Outcome.DONE:
            self.acks.append(claimed.id)
            if claimed.batch_id is not None or claimed.chain_id is not None:
                self.acks_carry_on = True
            return True
        if result.outcome is Outcome.RETRY:
            return self.store.release(owner, claimed.id, result.delay, result.error_text)
        if result.outcome is Outcome.LIMITED:
            self._wake_by(result.delay)
            return self.store.release_limited(owner, claimed.id, result.delay)
        failed = self.store.fail(owner, claimed.id, result.error_text or "failed",
                                 job_events.error_line(result.error))
        if failed is not None and failed.finished_batch is not None:
            announce_finished([failed.finished_batch])
        return failed is not None

    def _report_taken(self, slot: Slot) -> None:
        """The row is no longer ours: this worker was presumed dead and the job given back.
        Its new holder decides what happens to it; this outcome is dropped."""
        self.log(f"{slot.what} was given back while it ran here "
                 "(this worker was presumed dead); its outcome here is dropped")

    def _flush_acks(self) -> None:
        """Acknowledge the jobs no claim will carry (a stopping or full worker's)."""
        if self.acks:
            self.claimer.acknowledge(self.id, self.acks, self.acks_carry_on)
            self.acks, self.acks_carry_on = [], False
            self._announce_finished_batches()

    def _announce_finished_batches(self) -> None:
        if self.claimer.finished_batches:
            announce_finished(self.claimer.finished_batches)

    def _try_flush_acks(self) -> None:
        try:
            self._flush_acks()
        except DatabaseUnavailable as exc:
            self.link.lost(exc)

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

    def _until_database_answers(self, call: Callable[[], Any]) -> Any:
        return self.link.until_answers(call, stopping=lambda: self.stop_reason is not None)

    def _register_again(self) -> None:
        self.store.register_worker(self.id, self.options.name, socket.gethostname(),
                                   os.getpid(), self.options.queues, self.options.concurrency)

    # ------------------------------------------------------------------------- quit now

    def _give_back_all(self) -> None:
        """On a second Ctrl-C (the main thread waits in the signal handler meanwhile): every
        job this worker holds goes back to the queue; the finished ones are deleted."""
        pending = [*self.outcomes, *self._done]  # a list read, no lock: see _take_done
        done = [*self.acks, *(slot.claimed.id for slot, result in pending
                              if result.outcome is Outcome.DONE)]
        unstarted = [job_id for job_id, slot in self.slots.items() if slot.thread_id is None]
        try:
            given_back = self.store.abandon_worker(self.id, done, unstarted, self.processed,
                                                   self.failed)
        except REFUSED_WRITE_ERRORS as exc:
            self.log(f"quit: could not give the jobs back ({first_line(exc)}); "
                     "QUEUE_RETRY_AFTER will")
            return
        self.log(f"quit: gave back {given_back} job(s)")


def rss_megabytes() -> float:
    """Resident memory of this process now (not the peak, which never comes down)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


__all__ = ["MAX_CONCURRENCY", "JobEvent", "StopReason", "Worker", "WorkerOptions"]
