"""Claiming: one claim a turn for the free slots, and the jobs a one-slot worker claims
ahead of the one it runs (handed to its job thread as each job ends)."""

from __future__ import annotations

import time

from app.queue import decoding, job_events
from app.queue.connections.records import ClaimedJob
from app.queue.errors import (
    ClaimRefused,
    DatabaseUnavailable,
)
from app.queue.job import Job
from app.queue.worker.process import rss_megabytes
from app.queue.worker.slot import Slot
from app.queue.worker.state import WorkerState
from app.queue.worker.timeouts import is_async

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


class Claiming(WorkerState):
    """The claim and claim-ahead part of Worker."""

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
        path = decoding.class_path_of(slot.claimed.payload)
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
