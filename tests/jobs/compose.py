"""Jobs for the chain and batch tests: each records itself in the `ledger` table."""

from __future__ import annotations

import time

from app.queue import Abort, Job
from tests.jobs.basic import record


class Step(Job):
    """Records `run` under its tag; with `fails`, aborts instead (fails for good at once)."""

    def __init__(self, tag: str, fails: bool = False, seconds: float = 0.0) -> None:
        self.tag = tag
        self.fails = fails
        self.seconds = seconds

    def handle(self) -> None:
        if self.seconds:
            time.sleep(self.seconds)
        if self.fails:
            record(self, "failed", self.tag)
            raise Abort(f"step {self.tag} gave up")
        record(self, f"run batch={self.batch_id} chain={self.chain_id is not None}", self.tag)


class Callback(Job):
    """A then/catch/finally_ job: records what Skiplock told it."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        record(self, f"batch={self.batch_id} chain={self.chain_id} "
                     f"failed_job={self.failed_job_id} error={self.error}", self.tag)


class WaitsForCancel(Job):
    """Records `started`, then waits (up to 20 s) for its batch to be cancelled."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        record(self, "started", self.tag)
        deadline = time.monotonic() + 20
        while not self.batch().cancelled and time.monotonic() < deadline:
            time.sleep(0.05)
        record(self, f"cancelled={self.batch().cancelled}", self.tag)
