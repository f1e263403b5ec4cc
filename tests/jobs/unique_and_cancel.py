"""Jobs for the unique-job and cancellation tests. Each records what it does in the ledger."""

from __future__ import annotations

import asyncio
import time

from app.queue import Abort, Job
from tests.jobs.basic import record


def sleep_in_steps(seconds: float) -> None:
    """Sleep in 10 ms steps: a cancel (an exception raised in this thread) lands between them."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)

class UniqueReport(Job):
    """Unique per report id for a minute; records its run, fails when told to."""

    unique_for = 60
    tries = 1

    def __init__(self, report_id: int, should_fail: bool = False) -> None:
        self.report_id = report_id
        self.should_fail = should_fail

    def unique_id(self) -> str:
        return str(self.report_id)

    def handle(self) -> None:
        record(self, "ran", str(self.report_id))
        if self.should_fail:
            raise Abort("told to fail")


class UniqueUntilProcessing(Job):
    """Unique until it starts; then waits (sleeping in short steps) for `seconds`."""

    unique_for = 60
    unique_until = "processing"

    def __init__(self, tag: str, seconds: float = 0.0) -> None:
        self.tag = tag
        self.seconds = seconds

    def handle(self) -> None:
        record(self, "start", self.tag)
        sleep_in_steps(self.seconds)


class UniqueBriefly(Job):
    """Unique (one per class) for half a second only."""

    unique_for = 0.5

    def handle(self) -> None:
        record(self, "ran")


class SleepsInSteps(Job):
    """A plain job that runs for `seconds` in short sleeps (a cancel can reach it between
    them); records start, end, and its failed() hook. Retried if it fails, unless cancelled."""

    tries = 3
    backoff = 0

    def __init__(self, tag: str, seconds: float) -> None:
        self.tag = tag
        self.seconds = seconds

    def handle(self) -> None:
        record(self, "start", self.tag)
        sleep_in_steps(self.seconds)
        record(self, "end", self.tag)

    def failed(self, error: BaseException) -> None:
        record(self, f"failed: {type(error).__name__}", self.tag)


class AsyncSleeps(SleepsInSteps):
    """SleepsInSteps with an `async def` handler that awaits one long sleep."""

    async def handle(self) -> None:  # type: ignore[override]
        record(self, "start", self.tag)
        await asyncio.sleep(self.seconds)
        record(self, "end", self.tag)


# ----------------------------------------------------------- unique settings dispatch refuses


class UniqueIdNotAString(UniqueReport):
    def unique_id(self) -> str:
        return self.report_id  # type: ignore[return-value]


class UniqueForZero(UniqueReport):
    unique_for = 0


class UniqueForever(UniqueReport):
    unique_for = float("inf")


class UniqueForText(UniqueReport):
    unique_for = "60"  # type: ignore[assignment]


class UniqueUntilUnknown(UniqueReport):
    unique_until = "finished"


class UniqueUntilWithoutFor(UniqueReport):
    unique_for = None
    unique_until = "processing"


class CancelsItself(Job):
    """Cancels itself as its last act: its cancel and its own end race in the worker."""

    tries = 3

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        from app.queue import cancel

        record(self, "start", self.tag)
        assert self.job_id is not None
        cancel(self.job_id)

    def failed(self, error: BaseException) -> None:
        record(self, f"failed: {type(error).__name__}", self.tag)
