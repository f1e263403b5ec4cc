"""Timeouts: an attempt (or a failed() hook) past its deadline gets `JobTimeout` raised in its
thread; one blocked outside Python, where no exception can reach it, gets its worker replaced.

CPython delivers an exception raised in another thread at that thread's next bytecode: a
loop in Python stops, a `time.sleep` or a socket read without timeout does not. Such a thread
can only be stopped with its process, so the worker stops claiming, lets its other jobs
finish, and execs itself afresh (same pid, same arguments); the new process records the
timeouts, so a stuck job is never released while its code could still be running.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, NoReturn

from app.queue import decoding
from app.queue.connections.base import QueueStore
from app.queue.errors import JobCancelled, JobTimeout, PayloadError
from app.queue.job import Job
from app.queue.resolver import JobClassResolver
from app.queue.runner import AttemptResult, Defaults, Outcome, decide_after_error, timeout_of
from app.queue.worker import process
from app.queue.worker.interrupt import raise_in_thread
from app.queue.worker.slot import Slot

STUCK_GRACE = 2.0
"""Seconds a sync job may take to unwind after its timeout was raised in its thread."""
TIMEOUT_CHECK_S = 0.01
"""Timeouts are checked at most this often: the check walks every slot, and ran per job."""
TIMED_OUT_ENV = "SKIPLOCK_TIMED_OUT_JOBS"
"""Jobs a restarting worker left reserved because their thread could not be stopped."""
FAILED_HOOK_TIMEOUT = 60.0
"""Seconds a failed() hook may run when its job has no timeout (0): a hook that never returns
would otherwise hold a thread, and a stopping worker, for good."""
ASYNC_MARGIN = 1.0
"""An async handler is cancelled by asyncio at its timeout; the thread-level interrupt, this
much later, is only the backstop for one that blocks its event loop."""


class Timeouts:
    """The deadlines of one worker's slots. Job threads arm and disarm them; the main thread
    enforces them, and calls `on_stuck` when a thread cannot be stopped."""

    def __init__(self, defaults: Defaults, log: Callable[[str], None],
                 on_stuck: Callable[[], None]) -> None:
        self.defaults = defaults
        self.watched: list[dict[str, Slot]] = []
        """The worker's slot dicts (running jobs, failed() hooks), read in place."""
        self.log = log
        self.on_stuck = on_stuck
        self._checked = 0.0

    def watch(self, slots: dict[str, Slot]) -> None:
        self.watched.append(slots)

    # ------------------------------------------------------------------ in a job thread

    def arm_attempt(self, slot: Slot, job: Job, guard_held: bool = False) -> None:
        margin = ASYNC_MARGIN if is_async(type(job)) else 0.0
        self._arm(slot, timeout_of(job, self.defaults), margin, guard_held)

    def arm_failed_hook(self, slot: Slot, job: Job) -> None:
        timeout = timeout_of(job, self.defaults)
        self._arm(slot, timeout if timeout > 0 else FAILED_HOOK_TIMEOUT)

    @staticmethod
    def _arm(slot: Slot, timeout: float, margin: float = 0.0, guard_held: bool = False
             ) -> None:
        slot.timeout = timeout
        if timeout > 0:
            slot.deadline = time.monotonic() + timeout + margin
        with contextlib.nullcontext() if guard_held else slot.guard:
            slot.thread_id = threading.get_ident()
            slot.in_user_code = True

    @staticmethod
    def leave_user_code(slot: Slot) -> None:
        # The timeout (or a cancel) may have been raised in this thread just as user code
        # returned; it is then delivered here, and swallowed: the attempt's result is decided.
        while True:
            try:
                with slot.guard:
                    slot.in_user_code = False
                return
            except (JobTimeout, JobCancelled):
                continue

    # --------------------------------------------------------------- on the main thread

    def enforce(self) -> None:
        now = time.monotonic()
        if now - self._checked < TIMEOUT_CHECK_S:
            return
        self._checked = now
        for slots in self.watched:
            for slot in slots.values():
                if slot.deadline is not None and now >= slot.deadline:
                    self._past_deadline(slot, now - slot.deadline)

    def _past_deadline(self, slot: Slot, late: float) -> None:
        if not slot.interrupted:
            with slot.guard:
                if slot.in_user_code and slot.thread_id is not None and slot.reachable():
                    slot.interrupted = raise_in_thread(slot.thread_id, JobTimeout)
        elif not slot.stuck and slot.in_user_code and late >= STUCK_GRACE:
            slot.stuck = True
            self.log(f"{slot.what} is stuck past its timeout (blocked outside Python); "
                     "restarting this worker once its other jobs finish")
            self.on_stuck()

    def wait_bound(self, wait: float) -> float:
        """`wait`, shortened to the next deadline (or end of grace) of any slot."""
        now = time.monotonic()
        for slots in self.watched:
            for slot in slots.values():
                if slot.deadline is not None and not slot.stuck:
                    target = slot.deadline + (STUCK_GRACE if slot.interrupted else 0.0)
                    wait = min(wait, max(target - now, 0.01))
        return wait

    @staticmethod
    def is_stuck(slot: Slot) -> bool:
        return slot.stuck and slot.in_user_code

    def as_timeout(self, slot: Slot, result: AttemptResult) -> AttemptResult:
        """The result of an attempt interrupted at its timeout, decided as a JobTimeout."""
        error = JobTimeout(f"{slot.class_name} ran past its timeout of {slot.timeout:g}s")
        assert slot.job is not None
        decided = decide_after_error(slot.job, error, self.defaults, result.duration)
        return AttemptResult(decided.outcome, decided.delay, error,
                             f"JobTimeout: {error}\n\n{result.error_text or ''}", result.duration)

    # ------------------------------------------------------------------------ restart

    @staticmethod
    def restart_process(worker_id: str, stuck: Iterable[Slot]) -> NoReturn:
        """Replace this process with a fresh worker (same pid, same arguments): the only way
        to stop a thread blocked in C. Stuck failed() hooks need no record: their job's
        outcome is written already."""
        left = [{"id": s.claimed.id, "worker": worker_id, "timeout": s.timeout}
                for s in stuck if not s.hook]
        env = {**os.environ, TIMED_OUT_ENV: json.dumps(left)}
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(ValueError, OSError):  # a job may have closed them
                stream.flush()
        process.restore_std_fds()
        os.execve(sys.executable, sys.orig_argv, env)

    def record_jobs_left_by_restart(
            self, store: QueueStore, resolver: JobClassResolver,
            record: Callable[[Slot, AttemptResult, str], None],
            until_answers: Callable[[Callable[[], Any]], Any]) -> None:
        """In the fresh process: write the timeouts of the jobs the old one left reserved."""
        raw = os.environ.pop(TIMED_OUT_ENV, None)
        for entry in json.loads(raw) if raw else []:
            until_answers(partial(self._record_left, entry, store, resolver, record))

    def _record_left(self, entry: dict[str, Any], store: QueueStore,
                     resolver: JobClassResolver,
                     record: Callable[[Slot, AttemptResult, str], None]) -> None:
        claimed = store.reserved_job(entry["id"], entry["worker"])
        if claimed is not None:
            slot = Slot(claimed, interrupted=True, timeout=float(entry["timeout"]))
            try:
                slot.job = decoding.decode(claimed.payload, resolver)
            except PayloadError:
                return
            slot.job.job_id, slot.job.attempts = claimed.id, claimed.attempts
            slot.class_name = type(slot.job).__qualname__
            record(slot, AttemptResult(Outcome.FAIL, error=JobTimeout()), entry["worker"])
        store.stop_worker(entry["worker"], 0, 0, "stuck job")


_async_handlers: dict[type, bool] = {}


def is_async(cls: type[Job]) -> bool:
    """Is the class's handle() an `async def`? (Asked for every job: cached per class.)"""
    found = _async_handlers.get(cls)
    if found is None:
        found = _async_handlers[cls] = inspect.iscoroutinefunction(cls.handle)
    return found
