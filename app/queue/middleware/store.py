"""Where the built-in limits keep their state: the queue's LimitStore (job_limits)."""

from __future__ import annotations

from app.queue import context
from app.queue.connections.database.limits import LimitStore


def limits() -> LimitStore:
    return context.current().limits
