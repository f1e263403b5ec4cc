"""RateLimited: at most `limit` starts in any `per` seconds, across every worker."""

from __future__ import annotations

from typing import Any

from app.queue.connections.database.limits import KeyWrites, LimitState
from app.queue.job import Job
from app.queue.middleware.checks import limit_key, positive_count, seconds
from app.queue.middleware.store import limits
from app.queue.pipeline import Next, hold_back

SOONEST = 0.001
"""Seconds: a held-back job is never put back to be claimed at once."""


class RateLimited:
    """A sliding window: a job starts if fewer than `limit` jobs of the key started in the
    last `per` seconds; otherwise it is put back (its attempt not counted) until the window
    has room. Jobs already held back queue up: the k-th of them is put back for
    `room + per * (k // limit)`, so 1,000 waiting jobs come back `limit` at a time, once per
    window, instead of all of them every time the window has room."""

    def __init__(self, key: str, limit: int, per: float = 1.0) -> None:
        self.key = limit_key(key, "rate")
        self.limit = positive_count(limit, "limit")
        self.per = seconds(per, "per")

    def handle(self, job: Job, next: Next) -> Any:
        assert job.job_id is not None
        delay = limits().decide(self.key, job.job_id, self.per, self._start_or_wait)
        if delay > 0:
            hold_back(job, delay)
            return None
        return next(job)

    def _start_or_wait(self, state: LimitState, writes: KeyWrites) -> float:
        """0 if the job may start now (its start recorded), else seconds to wait."""
        if len(state.times) < self.limit:
            writes.put("started", drop=("waiting",))
            return 0.0
        # times are ≤ 0 and oldest first: room comes when the limit-th newest start leaves.
        room = self.per + state.times[-self.limit]
        delay = max(room, SOONEST) + self.per * (state.waiting_ahead // self.limit)
        writes.put("waiting", in_seconds=delay)
        return delay
