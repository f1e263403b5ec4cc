"""The worker: claim jobs, run them in a thread pool, record what happened.

The main thread owns the loop and every write about outcomes; job threads only run user code
and post their result back. No transaction is open while user code runs: a claim is one
autocommitted statement, and so is each outcome.
"""

from __future__ import annotations

import os
import queue as stdlib_queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from app.queue import job_events
from app.queue.connections.base import QueueStore, WakeupListener
from app.queue.errors import DatabaseUnavailable
from app.queue.ids import new_id
from app.queue.metrics import MetricsRecorder
from app.queue.resolver import JobClassResolver
from app.queue.runner import (
    AttemptResult,
    Defaults,
)
from app.queue.settings import QueueSettings
from app.queue.worker import process
from app.queue.worker.ahead import Claiming
from app.queue.worker.event_loop import JobLoop
from app.queue.worker.heartbeat import Heartbeat
from app.queue.worker.hooks import FailedHooks
from app.queue.worker.inbox import Inbox
from app.queue.worker.options import MAX_CONCURRENCY, JobEvent, StopReason, WorkerOptions
from app.queue.worker.outage import (
    OutageLog,
    RefusedOutcomes,
    WorkerLink,
)
from app.queue.worker.process import rss_megabytes
from app.queue.worker.recording import Recording
from app.queue.worker.running import Running
from app.queue.worker.signals import StopSignals
from app.queue.worker.slot import Slot
from app.queue.worker.stopping import Stopping
from app.queue.worker.threads import JobThreads
from app.queue.worker.timeouts import Timeouts
from app.queue.worker.vacuum import BloatGuard

GATHER_WINDOW = 0.002
"""Seconds the worker may wait for more slots to free before claiming (see
Worker._gather_completions): one round trip then serves several slots."""
GATHER_QUIET = 0.0005
"""...but no longer than this after the last job that ended."""


class Worker(Claiming, Running, Inbox, Recording, Stopping):
    """Claim, run, record, until a stop condition. Each part is a mixin in a module of its
    own (ahead, running, inbox, recording, stopping) rather than an object the loop calls
    through: the hot path keeps calling `self`'s own methods, one attribute hop as before."""

    def __init__(self, store: QueueStore, settings: QueueSettings, options: WorkerOptions,
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
        self.metrics_store = store.metrics()
        self._metrics_refused = False
        self.bloat = BloatGuard(store, settings.vacuum_every, self.log)
        self.heartbeat: Heartbeat | None = None
        self.listener: WakeupListener | None = None
        self._announced_wait = False
        self._limited_due: list[float] = []
        """When the jobs this worker put back for a limit are due (monotonic, a heap)."""

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
            self.listener = self.store.listener(self.options.queues, self.wake, self.outage,
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
            waiting = self.store.pending_counts(paused) if paused else {}
        except DatabaseUnavailable:
            return StopReason.EMPTY
        if not waiting:
            return StopReason.EMPTY
        self.log("nothing to claim, but paused with jobs waiting: "
                 + ", ".join(f"{queue} ({n:,})" for queue, n in waiting.items())
                 + " (queue:resume QUEUE lets workers claim them)")
        return StopReason.PAUSED

    def request_stop(self, reason: StopReason) -> None:
        """Stop claiming; the loop ends once running jobs have finished."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.wake()

    def wake(self) -> None:
        self.events.put(("wake", None))

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


__all__ = ["MAX_CONCURRENCY", "JobEvent", "StopReason", "Worker", "WorkerOptions", "rss_megabytes"]
