"""Small jobs for worker tests. Each records what it does in the `ledger` table."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time

import sqlalchemy as sa

from app.queue import Abort, Job, RetryAfter


def record(job: Job, event: str, tag: str | None = None) -> None:
    from app.database import engine

    with engine().begin() as conn:
        conn.execute(
            sa.text("INSERT INTO ledger (job_id, tag, event, pid, worker) "
                    "VALUES (:job_id, :tag, :event, :pid, :worker)"),
            {"job_id": job.job_id, "tag": tag, "event": event, "pid": os.getpid(),
             "worker": os.environ.get("LEDGER_WORKER", str(os.getpid()))},
        )


class Record(Job):
    """Records start and end; sleeps `seconds` in between."""

    def __init__(self, tag: str, seconds: float = 0.0) -> None:
        self.tag = tag
        self.seconds = seconds

    def handle(self) -> None:
        record(self, "start", self.tag)
        if self.seconds:
            time.sleep(self.seconds)
        record(self, "end", self.tag)


class AsyncRecord(Job):
    def __init__(self, tag: str, seconds: float = 0.0) -> None:
        self.tag = tag
        self.seconds = seconds

    async def handle(self) -> None:
        record(self, "start", self.tag)
        await asyncio.sleep(self.seconds)
        record(self, "end", self.tag)


class FailTimes(Job):
    """Fails its first `failures` attempts, then succeeds."""

    tries = 5
    backoff = 0

    def __init__(self, tag: str, failures: int) -> None:
        self.tag = tag
        self.failures = failures

    def handle(self) -> None:
        record(self, f"attempt {self.attempts}", self.tag)
        if self.attempts <= self.failures:
            raise RuntimeError(f"planned failure {self.attempts}")

    def failed(self, error: BaseException) -> None:
        record(self, f"failed: {type(error).__name__}", self.tag)


class AlwaysFails(FailTimes):
    tries = 2
    backoff = [0]

    def __init__(self, tag: str) -> None:
        super().__init__(tag, failures=10**6)


class Aborts(Job):
    tries = 5

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        record(self, "start", self.tag)
        raise Abort("no point in retrying")

    def failed(self, error: BaseException) -> None:
        record(self, f"failed: {type(error).__name__}", self.tag)


class FailsItself(Aborts):
    def handle(self) -> None:
        record(self, "start", self.tag)
        self.fail("the job gave up")


class RetryLater(Job):
    tries = 3

    def __init__(self, tag: str, seconds: float) -> None:
        self.tag = tag
        self.seconds = seconds

    def handle(self) -> None:
        record(self, f"attempt {self.attempts}", self.tag)
        if self.attempts == 1:
            raise RetryAfter(self.seconds)


class ReleasesOnce(RetryLater):
    def handle(self) -> None:
        record(self, f"attempt {self.attempts}", self.tag)
        if self.attempts == 1:
            self.release(self.seconds)


class Sleeps(Job):
    """Blocks in C (time.sleep) for `seconds`, past its timeout: needs a worker restart."""

    timeout = 2
    tries = 1

    def __init__(self, tag: str, seconds: float) -> None:
        self.tag = tag
        self.seconds = seconds

    def handle(self) -> None:
        record(self, "start", self.tag)
        time.sleep(self.seconds)
        record(self, "end", self.tag)

    def failed(self, error: BaseException) -> None:
        record(self, f"failed: {type(error).__name__}", self.tag)


class Spins(Sleeps):
    """Runs Python code past its timeout: interrupted in its thread, no restart needed."""

    def handle(self) -> None:
        record(self, "start", self.tag)
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            pass
        record(self, "end", self.tag)


class AsyncSleeps(Sleeps):
    async def handle(self) -> None:
        record(self, "start", self.tag)
        await asyncio.sleep(self.seconds)
        record(self, "end", self.tag)


class AsyncSleepsLonger(AsyncSleeps):
    """AsyncSleeps with a longer timeout: tasks of two timeouts share the worker's loop."""

    timeout = 4


class HalfwayUntil(Job):
    """Reports 50 % progress, then waits (a minute at most) until the file `go_on` exists:
    a job caught mid-way for as long as a test looks at it."""

    def __init__(self, go_on: str) -> None:
        self.go_on = go_on

    def handle(self) -> None:
        self.progress(50, "half way")
        deadline = time.monotonic() + 60
        while not os.path.exists(self.go_on) and time.monotonic() < deadline:
            time.sleep(0.05)


class Ledgered(Job):
    """For crash tests: one ledger row at start and one at end, with a short pause between."""

    tries = 10

    def __init__(self, n: int, seconds: float = 0.005) -> None:
        self.n = n
        self.seconds = seconds

    def handle(self) -> None:
        record(self, "start", str(self.n))
        time.sleep(self.seconds)
        record(self, "end", str(self.n))


class StopsItsWorker(Job):
    """Sends its own worker SIGTERM and returns at once: the worker stops while still holding
    the jobs it claimed ahead of this one."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        record(self, "start", self.tag)


class KillsItsWorker(Job):
    """On its first attempt, SIGKILLs its own worker before doing anything else (so within
    microseconds of its claim); on later ones, records that it ran."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        if self.attempts == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        record(self, "start", self.tag)


class AsyncWhere(AsyncRecord):
    """Records which event loop and thread its `async def handle` ran on."""

    async def handle(self) -> None:
        await asyncio.sleep(self.seconds)  # overlap with the others: all are running at once
        loop = id(asyncio.get_running_loop())
        record(self, f"loop {loop} thread {threading.get_ident()}", self.tag)


class AsyncJobThreads(AsyncRecord):
    """Records how many job threads its worker has started by the time it runs."""

    async def handle(self) -> None:
        await asyncio.sleep(self.seconds)
        threads = [t for t in threading.enumerate() if t.name.startswith("skiplock-job")]
        record(self, f"job threads {len(threads)}", self.tag)


class AsyncSpins(Spins):
    """Blocks its event loop with Python code past its timeout (no await)."""

    async def handle(self) -> None:  # type: ignore[override]
        Spins.handle(self)


class AsyncBlocks(Sleeps):
    """Blocks its event loop in C (time.sleep in an async def) past its timeout."""

    async def handle(self) -> None:  # type: ignore[override]
        Sleeps.handle(self)


class RecordsModules(Job):
    """Records (as its tag, a JSON list) which of `names` its worker process has imported."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def handle(self) -> None:
        record(self, "modules", json.dumps(sorted(n for n in self.names if n in sys.modules)))
