"""Jobs for the reliability suite (tests/reliability): one that keeps its ledger in files (for
database outages), and jobs that misbehave in every way a user's code can."""

from __future__ import annotations

import os
import sys
import time

from app.queue import Abort, Job
from tests.jobs.basic import record

LEDGER_DIR = "LEDGER_DIR"
"""Directory where Steady jobs append their ledger lines, one file per worker process."""


def record_to_file(event: str, tag: str) -> None:
    """One line, `tag<TAB>event<TAB>unix time`, appended to this worker's file. The ledger of the
    outage tests lives outside the database: jobs go on finishing while PostgreSQL is away,
    so the worker itself has to hold on to their outcomes."""
    worker = os.environ.get("LEDGER_WORKER", str(os.getpid()))
    path = os.path.join(os.environ[LEDGER_DIR], f"{worker}.log")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{tag}\t{event}\t{time.time()!r}\n".encode())  # one atomic append
    finally:
        os.close(fd)


class Steady(Job):
    """Sleeps `seconds` between a start and an end line in the file ledger; with `fail_first`,
    its first attempt then raises (so its outcome is a retry, not a delete)."""

    tries = 10
    backoff = [0.2]

    def __init__(self, n: int, seconds: float = 0.05, fail_first: bool = False) -> None:
        self.n = n
        self.seconds = seconds
        self.fail_first = fail_first

    def handle(self) -> None:
        record_to_file("start", str(self.n))
        time.sleep(self.seconds)
        record_to_file("end", str(self.n))
        if self.fail_first and self.attempts == 1:
            raise RuntimeError("planned failure of the first attempt")


# ------------------------------------------------------------------------- hostile jobs


class FailedHookRaises(Job):
    """Aborts; then its failed() hook raises too."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        record(self, "start", self.tag)
        raise Abort("handle gave up")

    def failed(self, error: BaseException) -> None:
        record(self, "failed hook", self.tag)
        raise RuntimeError("the failed() hook is broken too")


class CallsSysExit(Job):
    tries = 1

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        record(self, "start", self.tag)
        sys.exit(3)

    def failed(self, error: BaseException) -> None:
        record(self, f"failed: {type(error).__name__}", self.tag)


class RaisesKeyboardInterrupt(CallsSysExit):
    def handle(self) -> None:
        record(self, "start", self.tag)
        raise KeyboardInterrupt


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("this exception cannot be printed")


class RaisesUnprintable(CallsSysExit):
    """Raises an exception whose str() itself raises (user code can be that hostile)."""

    def handle(self) -> None:
        record(self, "start", self.tag)
        raise UnprintableError


class ExitsProcess(CallsSysExit):
    """os._exit(): takes its whole worker process down, no cleanup, like a segfault would."""

    def handle(self) -> None:
        record(self, "start", self.tag)
        os._exit(17)


class Busy(Job):
    """Runs pure Python for `seconds`: holds the GIL as much as a thread can."""

    def __init__(self, tag: str, seconds: float) -> None:
        self.tag = tag
        self.seconds = seconds

    def handle(self) -> None:
        record(self, "start", self.tag)
        deadline = time.monotonic() + self.seconds
        spins = 0
        while time.monotonic() < deadline:
            spins += 1
        record(self, "end", self.tag)


class ExitsProcessEveryTry(ExitsProcess):
    """ExitsProcess with attempts to spare: each worker that takes it dies (a crash loop)."""

    tries = 50
