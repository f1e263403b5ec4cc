"""ThrottlesExceptions: after `max_exceptions` exceptions within `decay` seconds, the jobs of
the key are held back until the oldest of those leaves the window (a circuit breaker for a
failing service)."""

from __future__ import annotations

import contextlib
from typing import Any

from app.queue.connections.database.limits import KeyWrites, LimitState
from app.queue.errors import QueueDatabaseError, RetryAfter
from app.queue.ids import new_id
from app.queue.job import Job
from app.queue.middleware.checks import (
    limit_key,
    optional_seconds,
    positive_count,
    seconds,
)
from app.queue.middleware.store import limits
from app.queue.pipeline import Next, hold_back


class ThrottlesExceptions:
    """The key is the job's class unless `key` is given. An exception is counted and raised on
    (the job's tries and backoff apply), or with `backoff` the job is retried after that many
    seconds. A success forgives the exceptions counted so far. Held-back jobs are put back
    without counting an attempt."""

    def __init__(self, max_exceptions: int = 10, decay: float = 600.0, *,
                 backoff: float | None = None, key: str | None = None) -> None:
        self.max_exceptions = positive_count(max_exceptions, "max_exceptions")
        self.decay = seconds(decay, "decay")
        self.backoff = optional_seconds(backoff, "backoff", allow_zero=True)
        self.key = None if key is None else limit_key(key, "throttle")

    def handle(self, job: Job, next: Next) -> Any:
        assert job.job_id is not None
        key = self.key or limit_key(type(job).class_path(), "throttle")
        store = limits()
        counted = store.decide(key, job.job_id, self.decay, self._exceptions_or_wait)
        if counted < 0:
            hold_back(job, -counted)
            return None
        try:
            result = next(job)
        except Exception as error:
            # Counting is best effort: a refused write must not replace the job's own error.
            with contextlib.suppress(QueueDatabaseError):
                store.record(key, "exception", new_id())
            if self.backoff is not None:
                raise RetryAfter(self.backoff, f"{type(error).__name__}: {error}") from error
            raise
        if counted:
            with contextlib.suppress(QueueDatabaseError):
                store.forget_kind(key, "exception")
        return result

    def _exceptions_or_wait(self, state: LimitState, writes: KeyWrites) -> float:
        """Exceptions in the window (≥ 0) while under the threshold; otherwise minus the
        seconds until the oldest that keeps the circuit open leaves it."""
        if len(state.times) < self.max_exceptions:
            return float(len(state.times))
        return -max(self.decay + state.times[-self.max_exceptions], 0.001)
