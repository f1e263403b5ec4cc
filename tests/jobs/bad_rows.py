"""Jobs whose stored rows the worker cannot decide about as it is used to: a `tries` or
`backoff` of the wrong type (set on the class, or stored as an attribute of the row), error
text PostgreSQL cannot store, a limit that holds a job back for NaN seconds. Dispatch refuses
most of these; rows already stored (or written by hand) still reach the worker."""

from __future__ import annotations

import os
from typing import Any

from app.queue import Job
from app.queue.middleware import hold_back
from tests.jobs.basic import record


class Raises(Job):
    """Takes any attribute (a `**kwargs` job, as `POST /api/jobs` can send) and raises."""

    def __init__(self, **attributes: Any) -> None:
        for name, value in attributes.items():
            setattr(self, name, value)

    def handle(self) -> None:
        record(self, "start", getattr(self, "tag", None))
        raise RuntimeError("planned failure")


class AsyncRaises(Raises):
    async def handle(self) -> None:  # type: ignore[override]
        record(self, "start", getattr(self, "tag", None))
        raise RuntimeError("planned failure")


class TriesAsText(Raises):
    tries = "3"  # type: ignore[assignment]


class BackoffAsWord(Raises):
    backoff = "abc"  # type: ignore[assignment]


class RaisesALoneSurrogate(Raises):
    """A file name read with os.fsdecode keeps an undecodable byte as a lone surrogate."""

    def handle(self) -> None:
        record(self, "start", getattr(self, "tag", None))
        raise RuntimeError("no such file: " + os.fsdecode(b"caf\xff"))


class RaisesANul(Raises):
    def handle(self) -> None:
        record(self, "start", getattr(self, "tag", None))
        raise RuntimeError("read a\x00b")


class FailsWithANul(Raises):
    def handle(self) -> None:
        record(self, "start", getattr(self, "tag", None))
        self.fail("bad byte \x00 here")


class HoldForNaN:
    def handle(self, job: Job, next: Any) -> None:
        hold_back(job, float("nan"))


class HeldBackForNaN(Raises):
    tries = 1

    def middleware(self) -> list[Any]:
        return [HoldForNaN()]

    def handle(self) -> None:
        record(self, "start", getattr(self, "tag", None))
