"""BenchNoop: the job queue:bench runs. It does nothing but note that, and when, it started.

Each worker process appends one line per job, `<i> <start>`, to its own file in the directory
named by SKIPLOCK_BENCH_LEDGER (the bench sets it for the workers it starts). From those files
the bench checks that every job ran exactly once, and reads start times for the latency figure.

Why a file and not a table: a ledger row per job would be one more write per job in the
database being measured, and would slow the drain it is meant to check. An O_APPEND write of a
few bytes costs a system call (microseconds), is atomic between the pool's threads, and lands
in the page cache; the bench reads the files only after the workers have exited.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from app.queue import Job

LEDGER_ENV = "SKIPLOCK_BENCH_LEDGER"

_fd: int | None = None
_fd_lock = threading.Lock()


def clock() -> float:
    """CLOCK_MONOTONIC is system-wide on Linux: the bench and its workers share it."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


class BenchNoop(Job):
    """A no-op with one small JSON argument, `{"i": n}`.

    Synchronous on purpose: the worker runs every job in its thread pool, and an `async def`
    handler would add an event-loop hop that a plain one does not pay.
    """

    def __init__(self, args: dict[str, Any]) -> None:
        self.args = args

    def handle(self) -> None:
        record_start(self.args.get("i"), clock())


def record_start(i: Any, started: float) -> None:
    fd = _ledger_fd()
    if fd is not None:
        os.write(fd, f"{i} {started:.9f}\n".encode())


def _ledger_fd() -> int | None:
    global _fd
    if _fd is None:
        directory = os.environ.get(LEDGER_ENV)
        if not directory:
            return None  # dispatched outside a bench: nothing to record
        with _fd_lock:
            if _fd is None:
                path = os.path.join(directory, f"{os.getpid()}.ledger")
                _fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return _fd


def read_ledgers(directory: str) -> list[tuple[int, float]]:
    """Every `(i, start)` the workers wrote into `directory`, in no particular order."""
    entries: list[tuple[int, float]] = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".ledger"):
            continue
        with open(os.path.join(directory, name)) as ledger:
            for line in ledger:
                i, _, started = line.partition(" ")
                entries.append((int(i), float(started)))
    return entries
