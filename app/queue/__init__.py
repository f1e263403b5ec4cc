"""Skiplock's queue core. Application code needs only what this module exports.

    from app.queue import Job, dispatch

    class SendWelcomeEmail(Job):
        def __init__(self, user_id: int) -> None:
            self.user_id = user_id

        def handle(self) -> None: ...

    dispatch(SendWelcomeEmail(7))
"""

from __future__ import annotations

from app.queue.dispatcher import dispatch, dispatch_many, dispatch_sync
from app.queue.errors import (
    Abort,
    DatabaseUnavailable,
    JobCancelled,
    JobTimeout,
    MaxAttemptsExceeded,
    PayloadError,
    QueueDatabaseError,
    QueueError,
    RetryAfter,
    SchemaMissing,
)
from app.queue.job import Job

__all__ = [
    "Abort",
    "DatabaseUnavailable",
    "Job",
    "JobCancelled",
    "JobTimeout",
    "MaxAttemptsExceeded",
    "PayloadError",
    "QueueDatabaseError",
    "QueueError",
    "RetryAfter",
    "SchemaMissing",
    "dispatch",
    "dispatch_many",
    "dispatch_sync",
]
