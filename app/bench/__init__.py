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

And the figures of real workloads (app/bench/workloads.py), chosen with `figures`: the no-op
as `async def`, the default worker, I/O-bound jobs (async and threads), many dispatching
processes, 10 KB payloads, latency under load, and churn without vacuum (with the workers'
memory).

Everything happens on a scratch queue of the configured database, which is left as it was found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from app.bench import figures, workloads
from app.bench.bench_noop import BenchUnique
from app.bench.checks import BenchError, require
from app.bench.scratch import Scratch
from app.bench.workers import BENCH_JOB_MODULE
from app.queue import context, dispatch_many
from app.queue.context import QueueContext

DEFAULT_FIGURES = ("enqueue", "enqueue_unique", "enqueue_bulk", "drain", "batch_dispatch",
                   "batch_drain", "latency")
"""What `queue:bench` measures when --figures is not given."""


@dataclass(frozen=True)
class BenchOptions:
    jobs: int = 10_000
    workers: int = 1
    concurrency: int = 10
    latency_jobs: int = 200
    interval_ms: float = 20.0
    backlog_rows: int = 1_000_000
    timeout: float = 300.0
    """Seconds a drain may take before the bench gives up."""
    figures: tuple[str, ...] = field(default_factory=lambda: DEFAULT_FIGURES)
    dispatchers: int = 8
    dispatcher_jobs: int = 2_000
    """dispatch() calls each dispatching process makes."""
    churn_jobs: int = 1_000_000


RATE_JOBS, RATE_LIMIT, RATE_PER, RATE_SECONDS = 1000, 5, 1.0, 10.0
"""The RateLimited figure: jobs waiting, the limit (starts per period) and the window."""

Measure = Callable[[Scratch, BenchOptions, dict[str, Any]], Any]
"""A figure's measurement: the scratch queue, the options, and the figures measured so far."""
FIGURES: dict[str, tuple[str, Measure]] = {
    "enqueue": ("enqueue: {o.jobs:,} jobs, one dispatch() each",
                lambda s, o, _: figures.enqueue_single(s, o.jobs)),
    "enqueue_unique": ("unique enqueue: {o.jobs:,} unique jobs, one dispatch() each",
                       lambda s, o, _: figures.enqueue_single(s, o.jobs, BenchUnique)),
    "enqueue_bulk": ("bulk enqueue: {o.jobs:,} jobs in one dispatch_many()",
                     lambda s, o, _: figures.enqueue_bulk(s, o.jobs)),
    "drain": ("drain: {o.jobs:,} jobs, {o.workers} worker process(es), "
              "concurrency {o.concurrency}",
              lambda s, o, _: figures.drain(s, o.jobs, o.workers, o.concurrency, o.timeout)),
    "batch_dispatch": ("batch dispatch: {o.jobs:,} jobs in one batch()",
                       lambda s, o, _: figures.batch_dispatch(s, o.jobs)),
    "batch_drain": ("batch drain: {o.jobs:,} jobs of one batch",
                    lambda s, o, done: figures.batch_drain(
                        s, batch_of(s, o, done), o.jobs, o.workers, o.concurrency, o.timeout)),
    "latency": ("latency: {o.latency_jobs} jobs {o.interval_ms:g} ms apart, one idle worker",
                lambda s, o, _: figures.latency(s, o.latency_jobs, o.interval_ms, o.concurrency,
                                             o.timeout)),
    "backlog": ("backlog: drain {o.jobs:,} jobs with 10,000, then {o.backlog_rows:,} "
                "rows waiting",
                lambda s, o, _: figures.backlog(s, o.jobs, o.workers, o.concurrency,
                                             o.backlog_rows, o.timeout)),
    "middleware": ("middleware: the drain with one no-op middleware, and RateLimited("
                   f"{RATE_LIMIT} per {RATE_PER:g} s) with {RATE_JOBS:,} jobs waiting "
                   f"{RATE_SECONDS:g} s", lambda s, o, done: measure_middleware(s, o, done)),
    "drain_async": ("async drain: {o.jobs:,} jobs, plain then async def, concurrency 10 "
                    "and 50", lambda s, o, _: workloads.drain_async(s, o.jobs, o.timeout)),
    "default_worker": ("default worker: {o.jobs:,} jobs, queue:work without options, 1 and 2 "
                       "processes", lambda s, o, _: workloads.default_worker(s, o.jobs, o.timeout)),
    "io_async": ("I/O-bound async: {o.jobs:,} jobs awaiting asyncio.sleep(0.05), concurrency "
                 "500", lambda s, o, _: workloads.io_async(s, o.jobs, o.timeout)),
    "io_threads": ("I/O-bound threads: {o.jobs:,} jobs in time.sleep(0.05), concurrency 200",
                   lambda s, o, _: workloads.io_threads(s, o.jobs, o.timeout)),
    "dispatchers": ("many dispatchers: {o.dispatchers} processes x {o.dispatcher_jobs:,} "
                    "dispatch()",
                    lambda s, o, _: workloads.dispatchers(s, o.dispatchers, o.dispatcher_jobs)),
    "payload": ("payload: {o.jobs:,} jobs of 10 KB against the no-op, concurrency "
                "{o.concurrency}",
                lambda s, o, _: workloads.payload(s, o.jobs, o.concurrency, o.timeout)),
    "latency_load": ("latency under load: {o.latency_jobs} jobs {o.interval_ms:g} ms apart "
                     "beside 5,000 jobs/s",
                     lambda s, o, _: workloads.latency_under_load(
                         s, o.latency_jobs, o.interval_ms, o.concurrency, o.timeout)),
    "churn": ("churn without vacuum: {o.churn_jobs:,} jobs, {o.workers} worker process(es), "
              "concurrency {o.concurrency}",
              lambda s, o, _: workloads.churn(s, o.churn_jobs, o.workers, o.concurrency,
                                           o.timeout)),
}
"""Every figure, in the order measured: (progress line, measurement)."""


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
        for name, (line, measure_one) in FIGURES.items():
            out[name] = None
            if name not in o.figures:
                continue
            if name == "drain" and "enqueue_bulk" not in o.figures:
                dispatch_many(figures.jobs_numbered(o.jobs))  # the bulk enqueue's pre-fill
            progress(line.format(o=o))
            out[name] = measure_one(s, o, out)
        out["settings"]["checkpoint"] = s.checkpoint
        progress("cleaning up the scratch queue")
    return out


def batch_of(s: Scratch, o: BenchOptions, done: dict[str, Any]) -> str:
    """The batch the batch drain drains: the batch dispatch's, or (that figure not chosen)
    one dispatched now as its pre-fill."""
    dispatched = done.get("batch_dispatch") or figures.batch_dispatch(s, o.jobs)
    return str(dispatched["batch_id"])


def measure_middleware(s: Scratch, o: BenchOptions, done: dict[str, Any]) -> dict[str, Any]:
    noop = figures.drain_with_middleware(s, o.jobs, o.workers, o.concurrency, o.timeout,
                                         done.get("drain"))
    rate = figures.rate_limited(s, RATE_JOBS, o.workers, o.concurrency, RATE_LIMIT, RATE_PER,
                                RATE_SECONDS)
    return {"noop_drain": noop, "rate_limited": rate}


def worker_lifetime(o: BenchOptions) -> float:
    """--max-time for the bench's workers: past any run of theirs, so that a bench killed
    outright cannot leave them running for ever. The churn's workers live through all its
    rounds, each of which may take --timeout."""
    latency_run = 2 * figures.IDLE_S + o.latency_jobs * o.interval_ms / 1000
    windows = -(-o.churn_jobs // workloads.CHURN_ROUND) if "churn" in o.figures else 1
    return o.timeout * windows + latency_run + 120


def describe_database(s: Scratch) -> dict[str, Any]:
    import config.database

    url = s.store.engine.url
    embedded = config.database.load().url is None
    where = "embedded" if embedded else f"{url.host or 'localhost'}:{url.port or 5432}"
    return {"server": f"{where}/{url.database}", "embedded": embedded, **s.store.server()}


__all__ = ["BenchError", "BenchOptions", "run_bench"]
