"""Recording each attempt's outcome: a done job's delete rides on the next claim (its ack),
anything else is one write; an outage or a refusal keeps the outcome in line for later."""

from __future__ import annotations

from app.queue import job_events
from app.queue.bus.batch import announce_finished
from app.queue.connections.records import ClaimedJob
from app.queue.errors import (
    DatabaseUnavailable,
    JobTimeout,
    QueueDatabaseError,
)
from app.queue.runner import (
    AttemptResult,
    Outcome,
)
from app.queue.worker import cancellation
from app.queue.worker.ahead import PREFETCH_HOLD_S
from app.queue.worker.options import JobEvent
from app.queue.worker.outage import (
    REFUSED_WRITE_ERRORS,
    first_line,
)
from app.queue.worker.slot import Slot
from app.queue.worker.state import WorkerState


class Recording(WorkerState):
    """The part of Worker that writes outcomes, acknowledgements and metrics."""

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
