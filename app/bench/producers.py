"""Dispatching processes for the bench: many web processes dispatching at once, or one
keeping a steady flow of jobs going while another figure is measured.

Each is a fresh interpreter (the `spawn` start method: a fork would share the parent's
connections), configured as any process of the application is (`import app`), that dispatches
through the public API only. It says it is ready once its jobs are built, waits for GO, and
reports its clock readings on a queue.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.process import BaseProcess
from typing import Any

from app.bench.bench_noop import BenchNoop, clock

READY_TIMEOUT_S = 60.0


def start(target: Any, *args: Any) -> tuple[BaseProcess, Any, Any, Any]:
    """Start `target(queue…, ready, go, out)` in a new interpreter; return it with its
    ready, go and out handles."""
    spawn = multiprocessing.get_context("spawn")
    ready, go, out = spawn.Event(), spawn.Event(), spawn.Queue()
    process = spawn.Process(target=target, args=(*args, ready, go, out), daemon=True)
    process.start()
    return process, ready, go, out


def wait_ready(started: list[tuple[BaseProcess, Any, Any, Any]]) -> None:
    from app.bench.checks import BenchError

    for process, ready, _, _ in started:
        if not ready.wait(READY_TIMEOUT_S):
            process.kill()
            raise BenchError(f"a dispatching process did not start within {READY_TIMEOUT_S:g}s")


def _as_the_bench(queue: str) -> None:
    """In the child: the application's context with the bench's job module allowed, and the
    bench's jobs pointed at the scratch queue (as the parent has them)."""
    import app  # noqa: F401 - registers the application's context provider
    from app.bench import with_bench_jobs
    from app.bench.bench_noop import BENCH_JOBS
    from app.queue import context

    context.use(with_bench_jobs(context.current()))
    for job_class in BENCH_JOBS:
        job_class.queue = queue


def dispatch_each(queue: str, first: int, count: int, ready: Any, go: Any, out: Any) -> None:
    """`count` dispatch() calls, one job each (numbered from `first`), as fast as they go;
    reports (start, end). The first call opens the process's dispatch connection, inside the
    window, as a web process's first dispatch does."""
    from app.queue import dispatch

    _as_the_bench(queue)
    jobs = [BenchNoop({"i": first + k}) for k in range(count)]
    ready.set()
    go.wait()
    started = clock()
    for job in jobs:
        dispatch(job)
    out.put((started, clock()))


def keep_flowing(queue: str, first: int, per_s: int, ready: Any, go: Any, out: Any) -> None:
    """While `go` is set, dispatch_many() the jobs due at `per_s` every 2 ms (numbered from
    `first`); once it is cleared, report how many were dispatched and over how long. Batches
    keep the flow's own cost small (one dispatch() per job would top out near 3,000 jobs/s in
    one process); 2 ms ones keep it close to a steady stream, and a call that took longer
    is followed by a bigger batch, so the rate holds. (On a 10 ms grid, a marker committed
    just after a batch of 50 waited behind all 50 at concurrency 10: its latency measured the
    grid, not the worker.)"""
    from app.queue import dispatch_many

    _as_the_bench(queue)
    period = 0.002
    ready.set()
    go.wait()
    sent, started = 0, clock()
    while go.is_set():
        due = max(1, int((clock() - started + period) * per_s) - sent)
        dispatch_many(BenchNoop({"i": first + sent + k}) for k in range(due))
        sent += due
        time.sleep(max(0.0, started + sent / per_s - clock()))
    out.put((sent, clock() - started))
