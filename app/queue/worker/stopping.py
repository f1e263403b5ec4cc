"""A stopping worker: what it still waits for (and says so), its exit, and the quit on a
second Ctrl-C that gives every job back at once."""

from __future__ import annotations

from itertools import chain

from app.queue import job_events
from app.queue.errors import DatabaseUnavailable
from app.queue.runner import Outcome
from app.queue.worker.outage import (
    REFUSED_WRITE_ERRORS,
    first_line,
)
from app.queue.worker.slot import Slot
from app.queue.worker.state import WorkerState
from app.queue.worker.timeouts import Timeouts


class Stopping(WorkerState):
    """The part of Worker that ends it."""

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
