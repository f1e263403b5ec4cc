"""How a worker stops a job cancelled while it runs; `cancel(id)` and what it does to a waiting
job are app/queue/cancellation.py.

The worker hears of a cancel by its listener (a notice on CANCEL_CHANNEL) or its heartbeat
(which reads the marks, for a notice lost while the listener reconnected). The main thread
then stops the job as timeouts do: a plain handle() gets `JobCancelled` raised in its thread
(at its next bytecode: a call blocked in C is stopped when it returns), an `async def` one has
its task cancelled. Either way the attempt is recorded as failed, never retried, and the job's
failed() hook runs; a job that ended on its own meanwhile keeps its success.
"""

from __future__ import annotations

from app.queue import redaction
from app.queue.errors import JobCancelled
from app.queue.runner import AttemptResult, Outcome, request_cancel
from app.queue.worker.interrupt import raise_in_thread
from app.queue.worker.slot import Slot
from app.queue.worker.timeouts import is_async


def stop(slot: Slot) -> bool:
    """On the main thread: stop the slot's job. False if it was asked already. A job not
    started yet sees `slot.cancelled` and never runs (Worker._attempt)."""
    with slot.guard:
        if slot.cancelled:
            return False
        slot.cancelled = True
        if not slot.in_user_code or slot.thread_id is None or slot.job is None:
            return True
        if slot.task is not None:  # a task on the worker's shared event loop
            slot.task.get_loop().call_soon_threadsafe(slot.task.cancel)
        elif is_async(type(slot.job)):
            # On its own thread's loop (it has middleware), or not begun yet on the shared
            # one (JobLoop.begin then cancels its task at once).
            request_cancel(slot.job)
        else:
            raise_in_thread(slot.thread_id, JobCancelled)
    return True


NOT_RUN = AttemptResult(Outcome.FAIL)
"""The attempt of a job cancelled before its handle() was called: claimed again after its
worker died with the cancel pending, or asked to stop between claim and start."""


def as_cancelled(result: AttemptResult) -> AttemptResult:
    """The result of a cancelled job that did not succeed: failed for good as cancelled,
    with where it stopped (the traceback of the error it ended with)."""
    error = JobCancelled("cancelled before it ran" if result is NOT_RUN
                         else "cancelled while running")
    text = f"JobCancelled: {error}"
    if result.error is not None:
        text += "\n\n" + redaction.format_error(result.error)
    return AttemptResult(Outcome.FAIL, error=error, error_text=text, duration=result.duration)
