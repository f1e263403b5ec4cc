"""`queue:bench`: how fast this queue is on this database, measured so the figures can be
compared with other queues' (the same workload and method as the peers' harness).

Figures, each only after its checks pass:

* enqueue — N jobs, one `dispatch()` each (each its own transaction);
* unique enqueue — the same with unique jobs (`unique_for`), each with its own key;
* bulk enqueue — one `dispatch_many()` of N jobs;
* drain — N jobs waiting, W real `queue:work` processes released at once; the window ends
  when the queue is empty; every job must have run exactly once;
* batch dispatch — one `batch([...]).dispatch()` of N jobs (the batch row and one COPY);
* batch drain — the drain of that batch, each success counted in `job_batches` as acked;
* latency — one idle worker, jobs dispatched 20 ms apart: committed dispatch → job start,
  median and p99;
* backlog (optional) — the drain with a million rows waiting behind the jobs, divided by the
  drain with ten thousand;
* middleware (optional) — the drain of jobs that pass one no-op middleware, as a share of the
  plain drain; and RateLimited(5 per second) with 1,000 jobs waiting for 10 s: starts ÷ what
  the limit allows, the claims per second it costs, and the workers' CPU.

Everything happens on a scratch queue of the configured database, which is left as it was found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from app.bench import figures
from app.bench.bench_noop import BenchUnique
from app.bench.checks import BenchError, require
from app.bench.scratch import Scratch
from app.bench.workers import BENCH_JOB_MODULE
from app.queue import context
from app.queue.context import QueueContext


@dataclass(frozen=True)
class BenchOptions:
    jobs: int = 10_000
    workers: int = 1
    concurrency: int = 10
    latency_jobs: int = 200
    interval_ms: float = 20.0
    backlog: bool = False
    backlog_rows: int = 1_000_000
    middleware: bool = False
    timeout: float = 300.0
    """Seconds a drain may take before the bench gives up."""


def run_bench(options: BenchOptions,
              progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Measure every figure; return them as a JSON-ready dict. Raises BenchError."""
    ctx = context.current()
    require(ctx.settings.connection == "database",
            "queue:bench measures the database queue, but QUEUE_CONNECTION is 'sync'")
    context.use(with_bench_jobs(ctx))
    try:
        return measure(options, progress)
    finally:
        context.use(ctx)


def with_bench_jobs(ctx: QueueContext) -> QueueContext:
    """The context, with the bench's job module among the job packages: dispatch refuses a
    class no worker would import, and only the bench's own workers import from app.bench."""
    packages = (*ctx.settings.job_packages, BENCH_JOB_MODULE)
    return QueueContext(replace(ctx.settings, job_packages=packages), ctx.engine_factory)


def measure(options: BenchOptions, progress: Callable[[str], None]) -> dict[str, Any]:
    from app.schema import require_current

    ctx = context.current()
    require_current(ctx.store.engine)
    o = options
    with Scratch(ctx, max_time=worker_lifetime(o)) as s:
        out: dict[str, Any] = {"database": describe_database(s), "settings": asdict(o)}
        out["settings"]["queue"] = s.queue
        progress(f"enqueue: {o.jobs:,} jobs, one dispatch() each")
        out["enqueue"] = figures.enqueue_single(s, o.jobs)
        progress(f"unique enqueue: {o.jobs:,} unique jobs, one dispatch() each")
        out["enqueue_unique"] = figures.enqueue_single(s, o.jobs, BenchUnique)
        progress(f"bulk enqueue: {o.jobs:,} jobs in one dispatch_many()")
        out["enqueue_bulk"] = figures.enqueue_bulk(s, o.jobs)
        progress(f"drain: {o.jobs:,} jobs, {o.workers} worker process(es), "
                 f"concurrency {o.concurrency}")
        out["drain"] = figures.drain(s, o.jobs, o.workers, o.concurrency, o.timeout)
        progress(f"batch dispatch: {o.jobs:,} jobs in one batch()")
        out["batch_dispatch"], batch_id = figures.batch_dispatch(s, o.jobs)
        progress(f"batch drain: {o.jobs:,} jobs of one batch")
        out["batch_drain"] = figures.batch_drain(s, batch_id, o.jobs, o.workers,
                                                 o.concurrency, o.timeout)
        progress(f"latency: {o.latency_jobs} jobs {o.interval_ms:g} ms apart, one idle worker")
        out["latency"] = figures.latency(s, o.latency_jobs, o.interval_ms, o.concurrency,
                                         o.timeout)
        out["backlog"] = None
        if o.backlog:
            progress(f"backlog: drain {o.jobs:,} jobs with {figures.BACKLOG_SMALL:,}, then "
                     f"{o.backlog_rows:,} rows waiting")
            out["backlog"] = figures.backlog(s, o.jobs, o.workers, o.concurrency,
                                             o.backlog_rows, o.timeout)
        out["middleware"] = measure_middleware(s, o, out["drain"], progress) \
            if o.middleware else None
        out["settings"]["checkpoint"] = s.checkpoint
        progress("cleaning up the scratch queue")
    return out


RATE_JOBS, RATE_LIMIT, RATE_PER, RATE_SECONDS = 1000, 5, 1.0, 10.0
"""The RateLimited figure: jobs waiting, the limit (starts per period) and the window."""


def measure_middleware(s: Scratch, o: BenchOptions, plain: dict[str, Any],
                       progress: Callable[[str], None]) -> dict[str, Any]:
    progress(f"drain with one no-op middleware: {o.jobs:,} jobs")
    noop = figures.drain_with_middleware(s, o.jobs, o.workers, o.concurrency, o.timeout, plain)
    progress(f"RateLimited({RATE_LIMIT} per {RATE_PER:g} s): {RATE_JOBS:,} jobs waiting, "
             f"{RATE_SECONDS:g} s")
    rate = figures.rate_limited(s, RATE_JOBS, o.workers, o.concurrency, RATE_LIMIT, RATE_PER,
                                RATE_SECONDS)
    return {"noop_drain": noop, "rate_limited": rate}


def worker_lifetime(o: BenchOptions) -> float:
    """--max-time for the bench's workers: past any run of theirs, so that a bench killed
    outright cannot leave them running for ever."""
    latency_run = 2 * figures.IDLE_S + o.latency_jobs * o.interval_ms / 1000
    return o.timeout + latency_run + 120


def describe_database(s: Scratch) -> dict[str, Any]:
    import config.database

    url = s.store.engine.url
    embedded = config.database.load().url is None
    where = "embedded" if embedded else f"{url.host or 'localhost'}:{url.port or 5432}"
    return {"server": f"{where}/{url.database}", "embedded": embedded, **s.store.server()}


__all__ = ["BenchError", "BenchOptions", "run_bench"]
