"""Back on the main thread: the results job threads posted, wake-ups, cancel notices, and
how long the worker may wait for them."""

from __future__ import annotations

import contextlib
import heapq
import queue as stdlib_queue
import time
from typing import Any

from app.queue.worker import cancellation
from app.queue.worker.ahead import PREFETCH_HOLD_S
from app.queue.worker.hooks import HOOK_ENDED
from app.queue.worker.options import JobEvent
from app.queue.worker.slot import Slot
from app.queue.worker.state import WorkerState

CANCEL = "cancel"
"""The event that tells the main thread a job it runs was cancelled."""


class Inbox(WorkerState):
    """The part of Worker that takes what other threads tell the main thread."""

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
