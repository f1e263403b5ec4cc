"""Skiplock's queue core. Application code needs only what this module exports.

    from app.queue import Job, dispatch

    class SendWelcomeEmail(Job):
        def __init__(self, user_id: int) -> None:
            self.user_id = user_id

        def handle(self) -> None: ...

    dispatch(SendWelcomeEmail(7))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from app.queue.cancellation import cancel
    from app.queue.dispatcher import dispatch, dispatch_many, dispatch_sync

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
    "cancel",
    "dispatch",
    "dispatch_many",
    "dispatch_sync",
]


def __getattr__(name: str) -> object:
    # The dispatcher brings SQLAlchemy and psycopg (0.3 s of imports): it is loaded when first
    # asked for, so that `artisan --help` and the commands that never dispatch skip it.
    if name in ("dispatch", "dispatch_many", "dispatch_sync"):
        from app.queue import dispatcher

        globals()[name] = value = getattr(dispatcher, name)
        return value
    if name == "cancel":
        from app.queue import cancellation

        globals()[name] = value = cancellation.cancel
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
