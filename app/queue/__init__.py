"""Skiplock's queue core. Application code needs only what this module exports.

    from app.queue import Job, dispatch

    class SendWelcomeEmail(Job):
        def __init__(self, user_id: int) -> None:
            self.user_id = user_id

        def handle(self) -> None: ...

    dispatch(SendWelcomeEmail(7))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from app.queue.job import SERVICES, Job

if TYPE_CHECKING:
    from app.queue.bus.batch import Batch, batch, cancel_batch, find_batch
    from app.queue.bus.chain import chain
    from app.queue.cancellation import cancel
    from app.queue.dispatcher import dispatch, dispatch_many, dispatch_sync

__all__ = [
    "Abort",
    "Batch",
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
    "batch",
    "cancel",
    "cancel_batch",
    "chain",
    "dispatch",
    "dispatch_many",
    "dispatch_sync",
    "find_batch",
]

_LAZY = {"dispatch": "app.queue.dispatcher", "dispatch_many": "app.queue.dispatcher",
         "dispatch_sync": "app.queue.dispatcher", "chain": "app.queue.bus.chain",
         "batch": "app.queue.bus.batch", "Batch": "app.queue.bus.batch",
         "find_batch": "app.queue.bus.batch", "cancel_batch": "app.queue.bus.batch",
         "cancel": "app.queue.cancellation"}


def _loaded(name: str) -> Any:
    """One of the names loaded when first asked for (see __getattr__), loaded now if not yet."""
    return globals()[name] if name in globals() else __getattr__(name)


def _dispatch(job: Job) -> str | None:
    return _loaded("dispatch")(job)  # type: ignore[no-any-return]


def _find_batch(batch_id: str) -> Any:
    return _loaded("find_batch")(batch_id)


# Job.dispatch() and Job.batch() go through these: job.py sits below the dispatcher and the
# batches, which are loaded when first used (see __getattr__).
SERVICES.dispatch, SERVICES.find_batch = _dispatch, _find_batch


def __getattr__(name: str) -> object:
    # The dispatcher (and chains and batches, built on it) brings SQLAlchemy and psycopg
    # (0.3 s of imports): it is loaded when first asked for, so that `artisan --help` and the
    # commands that never dispatch skip it.
    if name in _LAZY:
        import importlib

        globals()[name] = value = getattr(importlib.import_module(_LAZY[name]), name)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
