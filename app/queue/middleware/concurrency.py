"""ConcurrencyLimit (at most `n` running at once) and WithoutOverlapping (one at a time), held
across every worker and host."""

from __future__ import annotations

import functools
import logging
from typing import Any

from app.queue.connections.database.limits import KeyWrites, LimitState
from app.queue.errors import QueueDatabaseError
from app.queue.job import Job
from app.queue.middleware.checks import (
    limit_key,
    optional_seconds,
    positive_count,
)
from app.queue.middleware.store import limits
from app.queue.pipeline import Next, hold_back, worker_of
from app.queue.settings import MAX_DELAY

log = logging.getLogger("skiplock.middleware")


class ConcurrencyLimit:
    """A job holds the key while it runs; with `n` holders, the next is put back (its attempt
    not counted). A holder that ends wakes the job that has waited longest; the others come
    back at `release_after` seconds if given, else when the first hold could end by itself:
    its `expire_after`, or its worker's heartbeat running out (QUEUE_RETRY_AFTER after a
    kill -9). So waiting costs no claims while the holders are healthy."""

    prefix = "concurrency"

    def __init__(self, key: str, n: int, *, release_after: float | None = None,
                 expire_after: float | None = None) -> None:
        self.key = limit_key(key, self.prefix)
        self.n = positive_count(n, "n")
        self.release_after = optional_seconds(release_after, "release_after", allow_zero=True)
        self.expire_after = optional_seconds(expire_after, "expire_after")

    def handle(self, job: Job, next: Next) -> Any:
        assert job.job_id is not None
        choose = functools.partial(self._hold_or_wait, worker_of(job))
        delay = limits().decide(self.key, job.job_id, 0.0, choose)
        if delay is not None:
            hold_back(job, delay)
            return None
        try:
            return next(job)
        finally:
            self._free(job.job_id)

    def _free(self, job_id: str) -> None:
        """A refused free must not turn the job's outcome into a database error: the hold
        then lasts until `expire_after`, or until this worker stops."""
        try:
            limits().free_hold(self.key, job_id)
        except QueueDatabaseError as exc:
            log.warning("could not free %s for job %s (%s): it stays held until it expires "
                        "or this worker stops", self.key, job_id, exc)

    def _hold_or_wait(self, worker_id: str | None, state: LimitState,
                      writes: KeyWrites) -> float | None:
        """None if the job now holds the key, else seconds to wait."""
        if state.others < self.n:
            writes.put("holding", worker_id=worker_id, expires_in=self.expire_after,
                       drop=("waiting", "woken"))
            return None
        if self.release_after is not None:
            delay = self.release_after
        else:
            delay = min(max(state.free_in or 0.0, 0.001), MAX_DELAY)
        writes.put("waiting", in_seconds=delay, drop=("woken",))
        return delay


class WithoutOverlapping(ConcurrencyLimit):
    """One job of the key at a time (Laravel's WithoutOverlapping): ConcurrencyLimit(key, 1)."""

    prefix = "overlap"

    def __init__(self, key: str, *, release_after: float | None = None,
                 expire_after: float | None = None) -> None:
        super().__init__(key, 1, release_after=release_after, expire_after=expire_after)
