"""Cancel a job, cancel a batch, retry a batch's failed jobs: what the page forms and the API
routes share. Each calls the queue's own API (`cancel_job`, `cancel_batch`, the batch's
failed ids and `QueueAdmin.retry`, as queue:retry-batch does); the callers only word the
outcome, as a flash message or as JSON."""

from __future__ import annotations

import enum

from app.queue.admin import QueueAdmin, RetryResult
from app.queue.bus.batch import batch_store, cancel_batch, find_batch
from app.queue.cancellation import cancel_job
from app.queue.connections.records import CancelOutcome

JOB_CANCELLED = {
    CancelOutcome.REMOVED: "Job {id} cancelled: removed from its queue, it is in failed jobs "
                           "as cancelled.",
    CancelOutcome.STOPPING: "Job {id} cancelled: its worker was asked to stop it (it will be "
                            "in failed jobs as cancelled).",
    CancelOutcome.FINISHED: "Job {id} had already finished (failed): nothing to cancel.",
    CancelOutcome.UNKNOWN: "There is no job with id {id} waiting or running (it finished, or "
                           "never was).",
}
"""What a cancel did, in a sentence (a succeeded job leaves no row: it is UNKNOWN)."""


class BatchCancel(enum.StrEnum):
    """What cancelling a batch found, and did."""

    CANCELLED = "cancelled"
    ALREADY_CANCELLED = "already cancelled"
    FINISHED = "finished"
    UNKNOWN = "unknown"


BATCH_CANCELLED = {
    BatchCancel.CANCELLED: "Batch {id} cancelled: its waiting jobs will not run; running ones "
                           "see self.batch().cancelled.",
    BatchCancel.ALREADY_CANCELLED: "Batch {id} was cancelled already: nothing to do.",
    BatchCancel.FINISHED: "Batch {id} had already finished: nothing to cancel.",
    BatchCancel.UNKNOWN: "There is no batch with id {id}.",
}


def cancel_one_job(job_id: str) -> tuple[CancelOutcome, str]:
    """Cancel a job (not a batch: its id is UNKNOWN here), and say what happened."""
    outcome = cancel_job(job_id)
    return outcome, JOB_CANCELLED[outcome].format(id=job_id)


def cancel_one_batch(batch_id: str) -> tuple[BatchCancel, str]:
    """Cancel a batch unless it has finished. Cancelling one that finishes between the read
    and the cancel only stamps its cancelled_at: nothing is left to stop."""
    found = find_batch(batch_id)
    if found is None:
        outcome = BatchCancel.UNKNOWN
    elif found.finished and not found.cancelled:
        outcome = BatchCancel.FINISHED
    elif cancel_batch(batch_id):
        outcome = BatchCancel.CANCELLED
    else:
        outcome = BatchCancel.ALREADY_CANCELLED
    return outcome, BATCH_CANCELLED[outcome].format(id=batch_id)


def retry_batch(admin: QueueAdmin, batch_id: str) -> RetryResult | None:
    """Push the batch's failed jobs back onto their queues, as queue:retry-batch does.
    None for an unknown batch."""
    if find_batch(batch_id) is None:
        return None
    return admin.retry(batch_store().failed_ids(batch_id))
