"""The one error tree of the queue. The CLI turns any `QueueError` into one line on stderr."""

from __future__ import annotations

import math

from app.queue.settings import MAX_DELAY


class QueueError(Exception):
    """Root of every error Skiplock raises on purpose."""


class QueueDatabaseError(QueueError):
    """A statement of the queue's failed in the database or its driver. The message is one
    line (never SQL or parameters); the driver's exception is its `__cause__`."""


class DatabaseUnavailable(QueueDatabaseError):
    """The database cannot be reached (or stopped answering)."""


class DatabaseTimeout(DatabaseUnavailable):
    """A statement was cancelled by a time limit (statement_timeout, a lock wait): the
    database answers, but not in time. Like an outage it may pass, so the worker retries."""


class SchemaMissing(QueueDatabaseError):
    """The queue tables are not there (or older than this code): `python artisan.py migrate`."""


class ClaimRefused(QueueDatabaseError):
    """The database answered but refused the claim statement (not an outage): e.g. a trigger
    of the user's raised. The worker logs it and tries again later."""


class PayloadError(QueueError):
    """A stored payload cannot be turned back into a job: broken JSON, refused class, bad args."""


class InvalidJobOption(QueueError, TypeError):
    """A job's `tries` or `backoff` (on its class, or stored on its row) is not of a type the
    worker can use: the job fails with this error rather than leave the worker undecided."""


class JobNotFound(QueueError):
    """No job (pending, reserved or failed) has this id."""


class Abort(Exception):
    """Raised by a job to fail at once: no more attempts, straight to `failed_jobs`."""


class RetryAfter(Exception):
    """Raised by a job to be retried after `seconds` (the attempt counts)."""

    def __init__(self, seconds: float, reason: str | None = None) -> None:
        seconds = float(seconds)
        if not math.isfinite(seconds) or not 0 <= seconds <= MAX_DELAY:
            raise ValueError(f"RetryAfter takes a number of seconds from 0 to {MAX_DELAY:.0f} "
                             f"(100 years), not {seconds!r}")
        super().__init__(reason or f"retry after {seconds:g}s")
        self.seconds = seconds


class JobTimeout(QueueError, TimeoutError):
    """An attempt ran past its job's `timeout` (a TimeoutError too, as code that catches
    timeouts expects)."""


class JobCancelled(QueueError):
    """A job was cancelled before or while it ran."""


class MaxAttemptsExceeded(QueueError):
    """A job was claimed again after using every attempt (its worker died mid-run)."""
