"""In a job thread, or on the event loop's: decode the claimed job, run one attempt, and post
its result back to the main thread. Nothing here raises: what goes wrong is the job's result."""

from __future__ import annotations

import contextlib

from app.queue import decoding, job_events
from app.queue.errors import (
    DatabaseUnavailable,
    InvalidJobOption,
    MaxAttemptsExceeded,
    PayloadError,
)
from app.queue.job import Job
from app.queue.runner import (
    AttemptResult,
    Outcome,
    decide_after_error,
    run_attempt,
    start_attempt,
    timeout_of,
    traceback_text,
    tries_of,
    uses_middleware,
)
from app.queue.worker import cancellation, process
from app.queue.worker.slot import Slot
from app.queue.worker.state import WorkerState
from app.queue.worker.timeouts import is_async


class Running(WorkerState):
    """The part of Worker that runs on job threads and the event loop."""

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

    def _error_result(self, slot: Slot, error: BaseException) -> AttemptResult:
        """Never raises (decide_after_error does not): a result is always posted."""
        return decide_after_error(slot.job, error, self.defaults, 0.0) if slot.job \
            else AttemptResult(Outcome.FAIL, error=error, error_text=traceback_text(error))

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
            job = decoding.decode(claimed.payload, self.resolver)
        except PayloadError as error:
            return AttemptResult(Outcome.FAIL, error=error, error_text=f"PayloadError: {error}")
        job.job_id, job.attempts, job._control = claimed.id, claimed.attempts, self
        if claimed.batch_id is not None or claimed.chain_id is not None:
            job.batch_id, job.chain_id = claimed.batch_id, claimed.chain_id
        slot.job, slot.class_name = job, type(job).__qualname__
        try:
            tries = tries_of(job, self.defaults)
        except InvalidJobOption as bad:
            return AttemptResult(Outcome.FAIL, error=bad, error_text=f"InvalidJobOption: {bad}")
        if claimed.attempts > tries:
            exceeded = MaxAttemptsExceeded(
                f"{slot.class_name} has been attempted too many times ({claimed.attempts - 1} "
                f"of {tries}); its last attempt ended without an outcome (worker killed?) or "
                "it released itself after its last attempt")
            return AttemptResult(Outcome.FAIL, error=exceeded,
                                 error_text=f"MaxAttemptsExceeded: {exceeded}")
        return job

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
