"""BenchNoop: the job queue:bench runs. It does nothing but note that, and when, it started.

Each worker process keeps one line per job, `<i> <start>`, and writes them to its own file in
the directory named by SKIPLOCK_BENCH_LEDGER (the bench sets it for the workers it starts) in
chunks, the rest at exit. From those files the bench checks that every job ran exactly once,
and reads start times for the latency figure; it reads them only after the workers have exited.

Why a file and not a table: a ledger row per job would be one more write per job in the
database being measured, and would slow the drain it is meant to check. Why in memory first:
a write per job, from every job thread to one file, cost more than the job itself (a drain at
concurrency 50 went from ~16,000 to ~10,500 jobs/s with it). The peers' harness keeps its
record in memory too.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from app.queue import Job
from app.queue.middleware import RateLimited

LEDGER_ENV = "SKIPLOCK_BENCH_LEDGER"

_flush_lock = threading.Lock()


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


class BenchUnique(BenchNoop):
    """BenchNoop as a unique job, unique per `i`: the "unique dispatch" figure's job."""

    unique_for = 3600

    def unique_id(self) -> str:
        return str(self.args.get("i"))


class Passthrough:
    """A middleware that only calls on: what the pipeline itself costs a job."""

    def handle(self, job: Job, next: Callable[[Job], Any]) -> Any:
        return next(job)


class BenchNoopMiddleware(BenchNoop):
    """BenchNoop inside one no-op middleware."""

    def middleware(self) -> list[Any]:
        return [Passthrough()]


CLAIMED = -1
"""The ledger's `i` for a claim of BenchRateLimited, rather than a start."""


class BenchRateLimited(BenchNoop):
    """BenchNoop under RateLimited; its arguments carry the key, limit and period. Each
    claim is noted in the ledger too (as `CLAIMED`), whether the limit then lets it start or
    holds it back: the figure counts claims in any part of its window."""

    def middleware(self) -> list[Any]:
        record_start(CLAIMED, clock())
        return [RateLimited(self.args["key"], self.args["limit"], self.args["per"])]


class BenchNoopAsync(BenchNoop):
    """The no-op as `async def`: what the async drain figure compares with BenchNoop."""

    async def handle(self) -> None:  # type: ignore[override]
        record_start(self.args.get("i"), clock())


class BenchSleep(BenchNoop):
    """An I/O-bound job written the threaded way: `time.sleep(args["sleep"])` after its start
    is noted, as a stand-in for a blocking call over the network."""

    def handle(self) -> None:
        record_start(self.args.get("i"), clock())
        time.sleep(self.args["sleep"])


class BenchSleepAsync(BenchNoop):
    """The same wait written the asyncio way: `await asyncio.sleep(args["sleep"])`."""

    async def handle(self) -> None:  # type: ignore[override]
        record_start(self.args.get("i"), clock())
        await asyncio.sleep(self.args["sleep"])


BENCH_JOBS: tuple[type[BenchNoop], ...] = (BenchNoop, BenchUnique, BenchNoopMiddleware,
                                            BenchRateLimited, BenchNoopAsync, BenchSleep,
                                            BenchSleepAsync)
"""Every job class the bench dispatches: the scratch queue is set on each for a run."""


def record_start(i: Any, started: float) -> None:
    if not _ledger_path():
        return  # dispatched outside a bench: nothing to record
    _lines.append(f"{i} {started:.9f}\n")  # list.append is atomic between job threads
    if len(_lines) >= FLUSH_EVERY:
        flush_ledger()


FLUSH_EVERY = 4096
_lines: list[str] = []
_path: str | None = None


def _ledger_path() -> str:
    global _path
    if _path is None:
        directory = os.environ.get(LEDGER_ENV)
        _path = os.path.join(directory, f"{os.getpid()}.ledger") if directory else ""
        if _path:
            atexit.register(flush_ledger)
    return _path


def flush_ledger() -> None:
    """Append the lines kept so far to this process's ledger file (one write)."""
    with _flush_lock:
        taken = _lines[:]
        del _lines[: len(taken)]
        if taken:
            fd = os.open(_path or _ledger_path(), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                data = memoryview("".join(taken).encode())
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)


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
