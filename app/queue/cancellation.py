"""Cancelling a job: `cancel(id)`. How a worker stops a job cancelled while it runs is
app/queue/worker/cancellation.py.

A pending or delayed job moves to failed_jobs at once (JobStore.cancel), as a failure for
good: its chain's catch job is enqueued, its batch counts it failed (and is cancelled unless
it allows failures). A running one: its
row is marked (`jobs.cancelled_at`) and `<worker id> <job id>` sent on
listener.CANCEL_CHANNEL; the worker's listener hears it, and its heartbeat reads the marks too
(for a notification lost while the listener reconnected, and with QUEUE_LISTEN=false). The main
thread then stops the job as timeouts do: a plain handle() gets `JobCancelled` raised in its
thread (at its next bytecode: a call blocked in C is stopped when it returns), an `async def`
one has its task cancelled. Either way the attempt is recorded as failed, never retried, and
the job's failed() hook runs. A job that ended on its own meanwhile keeps a success; any
other outcome is recorded as the cancel (once: the outcome is written by the main thread).
"""

from __future__ import annotations

from app.queue import context
from app.queue.bus.batch import cancel_batch
from app.queue.connections.records import CancelOutcome

WHILE_WAITING = "JobCancelled: cancelled while waiting"
"""failed_jobs.exception of a job cancelled while pending or delayed. Every cancelled job's
starts `JobCancelled: cancelled`, for grep and queue:failed."""


def cancel(job_id: str) -> bool:
    """Cancel a job or a batch. A job: True if it was pending, delayed or running (and is now
    removed, or asked to stop); False if it had finished already. A batch id (no job has
    it): True if the batch was not cancelled already (see `cancel_batch`). False for an id
    that names neither."""
    outcome = cancel_job(job_id)
    if outcome is CancelOutcome.UNKNOWN:
        return cancel_batch(job_id)
    return outcome in (CancelOutcome.REMOVED, CancelOutcome.STOPPING)


def cancel_job(job_id: str) -> CancelOutcome:
    """What cancelling `job_id` found and did (queue:cancel says which)."""
    if not isinstance(job_id, str):
        raise TypeError(f"cancel() takes a job id (a str), not {type(job_id).__name__}")
    return context.current().store.cancel(job_id, WHILE_WAITING)
