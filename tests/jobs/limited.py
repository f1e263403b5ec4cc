"""Jobs with middleware, for the middleware and limits tests. Each notes its runs in `ledger`;
`at` is the time handle() began, taken in the job (the ledger's insert comes a round trip
later, and under load that delay varies)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import sqlalchemy as sa

from app.queue import Job
from app.queue.middleware import (
    ConcurrencyLimit,
    RateLimited,
    Skip,
    ThrottlesExceptions,
    WithoutOverlapping,
)


def note(job: Job, event: str, tag: str, at: float | None = None) -> None:
    """A ledger row: `event` of job `tag`, with its attempt in `event` for the checks."""
    from app.database import engine

    with engine().begin() as conn:
        conn.execute(
            sa.text("INSERT INTO ledger (job_id, tag, event, pid, worker, at) "
                    "VALUES (:job_id, :tag, :event, :pid, :worker, to_timestamp(:at))"),
            {"job_id": job.job_id, "tag": tag, "event": event, "pid": os.getpid(),
             "worker": os.environ.get("LEDGER_WORKER", str(os.getpid())),
             "at": time.time() if at is None else at})


class Timed(Job):
    """Notes `start` (with its attempt) when handle() begins and `end` after `seconds`."""

    tries = 1

    def __init__(self, tag: str, key: str, seconds: float = 0.0) -> None:
        self.tag = tag
        self.key = key
        self.seconds = seconds

    def handle(self) -> None:
        started = time.time()
        note(self, f"start {self.attempts}", self.tag, started)
        if self.seconds:
            time.sleep(self.seconds)
        note(self, "end", self.tag)


class RateLimitedJob(Timed):
    limit = 5
    per = 1.0

    def middleware(self) -> list[Any]:
        return [RateLimited(self.key, self.limit, self.per)]


class NotOverlapping(Timed):
    def middleware(self) -> list[Any]:
        return [WithoutOverlapping(self.key)]


class ThreeAtOnce(Timed):
    def middleware(self) -> list[Any]:
        return [ConcurrencyLimit(self.key, 3)]


class Throttled(Job):
    """Raises while `broken`; a throttle opens after two exceptions in a minute."""

    tries = 10
    backoff = 0

    def __init__(self, tag: str, broken: bool) -> None:
        self.tag = tag
        self.broken = broken

    def middleware(self) -> list[Any]:
        return [ThrottlesExceptions(max_exceptions=2, decay=60, key=f"throttle-{self.tag}")]

    def handle(self) -> None:
        note(self, f"start {self.attempts}", self.tag)
        if self.broken:
            raise RuntimeError("the partner API is down")


class Skippable(Job):
    def __init__(self, tag: str, order_id: int) -> None:
        self.tag = tag
        self.order_id = order_id

    def middleware(self) -> list[Any]:
        return [Skip.when(lambda job: job.order_id == 0), Skip.unless(self.order_id < 100)]

    def handle(self) -> None:
        note(self, "ran", self.tag)


class Around:
    """A middleware of the user's: notes before and after the rest of the pipeline."""

    def __init__(self, name: str) -> None:
        self.name = name

    def handle(self, job: Any, next: Any) -> Any:
        note(job, f"{self.name} before", job.tag)
        try:
            return next(job)
        finally:
            note(job, f"{self.name} after", job.tag)


class Wrapped(Job):
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def middleware(self) -> list[Any]:
        return [Around("outer"), Around("inner")]

    def handle(self) -> None:
        note(self, "handle", self.tag)


class AsyncWrapped(Wrapped):
    async def handle(self) -> None:  # type: ignore[override]
        await asyncio.sleep(0.01)
        note(self, "handle", self.tag)


class NotAList(Job):
    tries = 3

    def middleware(self) -> Any:
        return Around("alone")

    def handle(self) -> None:
        note(self, "ran", "not-a-list")


class NoHandle(Job):
    tries = 3

    def middleware(self) -> list[Any]:
        return [object()]

    def handle(self) -> None:
        note(self, "ran", "no-handle")


class Secret(Job):
    encrypted = True

    def __init__(self, tag: str, card: str) -> None:
        self.tag = tag
        self.card = card

    def handle(self) -> None:
        note(self, f"card {self.card}", self.tag)
