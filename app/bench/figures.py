"""The figures of queue:bench, measured the way the peers' harness measures other queues.

All times are CLOCK_MONOTONIC. Before every window the jobs table is vacuumed and analysed
and a CHECKPOINT is taken, so none of that lands inside it. No figure is returned unless its
checks passed: the rows are where they should be, and every job ran exactly once.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from app.bench.bench_noop import (
    CLAIMED,
    BenchNoop,
    BenchNoopMiddleware,
    BenchRateLimited,
    BenchUnique,
    clock,
    read_ledgers,
)
from app.bench.checks import check_ran_once, median, percentile, rate, require
from app.bench.scratch import Scratch
from app.bench.workers import WorkerGroup, steal_pct_since, steal_ticks, wait_drained
from app.queue import batch, dispatch, dispatch_many, find_batch, payload

WARMUP_JOBS = 5
"""Latency: unmeasured jobs first (the first one is reported apart as the cold start)."""
IDLE_S = 1.0
"""Latency: the worker idles this long before the warm-up, and again before measuring."""
BACKLOG_SMALL = 10_000
"""Backlog figure: the drain with this many rows waiting is the yardstick."""


def jobs_numbered(n: int, job_class: type[BenchNoop] = BenchNoop) -> list[BenchNoop]:
    return [job_class({"i": i}) for i in range(n)]


def timed(jobs: int, seconds: float) -> dict[str, Any]:
    return {"jobs": jobs, "seconds": round(seconds, 4), "jobs_per_s": rate(jobs, seconds)}


# ------------------------------------------------------------------------------- enqueue


def enqueue_single(s: Scratch, n: int, job_class: type[BenchNoop] = BenchNoop
                   ) -> dict[str, Any]:
    """N dispatch() calls, each its own transaction, from one process; the jobs are built first.
    With BenchUnique: N unique jobs with distinct keys, then a duplicate that must be refused."""
    jobs = jobs_numbered(n, job_class)
    s.settle()
    s.store.count_queue(s.queue)  # the pool's connection is open before the clock starts
    t0 = clock()
    for job in jobs:
        dispatch(job)
    t1 = clock()
    enqueued = s.store.count_queue(s.queue)
    require(enqueued == n, f"enqueue: {enqueued} rows on the queue after {n} dispatch() calls")
    if job_class is BenchUnique:
        require(dispatch(BenchUnique({"i": 0})) is None,
                "unique enqueue: a duplicate of a waiting unique job was enqueued")
    s.store.delete_jobs(s.queue)
    return timed(n, t1 - t0)


def enqueue_bulk(s: Scratch, n: int) -> dict[str, Any]:
    """One dispatch_many() of N jobs. The rows stay: they are the drain's pre-fill."""
    jobs = jobs_numbered(n)
    s.settle()
    s.store.count_queue(s.queue)
    t0 = clock()
    dispatch_many(jobs)
    t1 = clock()
    enqueued = s.store.count_queue(s.queue)
    require(enqueued == n, f"bulk enqueue: {enqueued} rows on the queue after dispatch_many()")
    return timed(n, t1 - t0)


def batch_dispatch(s: Scratch, n: int) -> dict[str, Any]:
    """One batch([...]).dispatch() of N jobs: the job_batches row and one COPY, in one
    transaction. The rows stay: they are the batch drain's pre-fill (`batch_id`)."""
    jobs = jobs_numbered(n)
    s.settle()
    s.store.count_queue(s.queue)
    t0 = clock()
    dispatched = batch(jobs).name(s.queue).dispatch()
    t1 = clock()
    enqueued = s.store.count_queue(s.queue)
    require(enqueued == n, f"batch dispatch: {enqueued} rows on the queue after batch()")
    return {**timed(n, t1 - t0), "batch_id": dispatched.id}


def batch_drain(s: Scratch, batch_id: str, n: int, workers: int, concurrency: int,
                timeout: float) -> dict[str, Any]:
    """The drain of a batch's N jobs, each success counted in job_batches as it is acked;
    the batch must end finished with its counters exact."""
    figure = drain(s, n, workers, concurrency, timeout, run="batch drain")
    done = find_batch(batch_id)
    require(done is not None and done.finished and (done.pending_jobs, done.failed_jobs)
            == (0, 0), f"batch drain: the batch ended as {done!r}")
    return figure


# --------------------------------------------------------------------------------- drain


def drain(s: Scratch, n: int, workers: int, concurrency: int | None, timeout: float,
          run: str = "drain") -> dict[str, Any]:
    """The queue holds N jobs; W worker processes are released at once; the window ends
    when the poll first sees the queue empty (every job run and acknowledged)."""
    window = released_window(s, run, workers, concurrency, timeout)
    group = window.pop("group")
    check_ran_once(ran_in(group), n, run)
    totals = s.store.worker_totals(s.queue)
    # The workers' own count (stop_worker writes it at exit) must agree with the ledger.
    require(totals.processed == n and totals.failed == 0,
            f"drain: the workers processed {totals.processed} jobs ({totals.failed} failed), "
            f"expected {n}")
    left, failed = s.store.count_queue(s.queue), s.store.count_failed(s.queue)
    require(left == 0 and failed == 0, f"drain: {left} jobs left, {failed} failed")
    s.forget_workers()
    cpu = window.pop("worker_cpu_s")
    return {**timed(n, window.pop("seconds")), **window,
            "worker_cpu_s_per_1000_jobs": round(cpu * 1000 / n, 3) if cpu is not None else None}


def drain_with_middleware(s: Scratch, n: int, workers: int, concurrency: int,
                          timeout: float, plain: dict[str, Any] | None) -> dict[str, Any]:
    """The drain, of N jobs that each pass one no-op middleware, and its share of `plain`'s
    rate (when the plain drain was measured too): what the pipeline costs a job that uses it."""
    dispatch_many([BenchNoopMiddleware({"i": i}) for i in range(n)])
    figure = drain(s, n, workers, concurrency, timeout, "drain-middleware")
    share = round(figure["jobs_per_s"] / max(plain["jobs_per_s"], 1), 3) if plain else None
    return {**figure, "of_plain": share}


def rate_limited(s: Scratch, n: int, workers: int, concurrency: int, limit: int, per: float,
                 seconds: float) -> dict[str, Any]:
    """N jobs under RateLimited(limit, per) waiting; the workers released for `seconds`.
    Accuracy: the starts in that window ÷ what the limit allows in it (the sliding window
    keeps it at 1.0 or below). Claims per second and worker CPU, in each half of the window:
    in the first, each waiting job is claimed once to be given its place; the second shows
    what waiting costs once they have one (a busy loop would claim them again and again)."""
    dispatch_many([BenchRateLimited({"i": i, "key": s.queue, "limit": limit, "per": per})
                   for i in range(n)])
    s.jobs.pause(s.queue)
    s.settle()
    group = s.workers("rate", workers, concurrency)
    group.wait_ready()
    marks = [(clock(), group.cpu_seconds())]
    s.jobs.resume(s.queue)
    s.jobs.notify([s.queue])
    for _ in range(2):
        time.sleep(seconds / 2)
        marks.append((clock(), group.cpu_seconds()))
    group.stop()
    s.forget_workers()
    s.store.delete_jobs(s.queue)
    entries = read_ledgers(str(group.ledger_dir))
    (t0, _), _, (t1, _) = marks
    started = sum(1 for i, at in entries if i != CLAIMED and t0 <= at < t1)
    halves = [half_figures(entries, begin, end) for begin, end in itertools.pairwise(marks)]
    return {"jobs_waiting": n, "limit": limit, "per_s": per, "seconds": seconds,
            "started": started, "accuracy": round(started * per / (limit * seconds), 3),
            "first_half": halves[0], "second_half": halves[1]}


def half_figures(entries: list[tuple[int, float]], begin: tuple[float, float | None],
                 end: tuple[float, float | None]) -> dict[str, Any]:
    """Claims per second and the workers' CPU share between two (time, CPU seconds) marks."""
    (t0, cpu0), (t1, cpu1) = begin, end
    claims = sum(1 for i, at in entries if i == CLAIMED and t0 <= at < t1)
    cpu = (cpu1 - cpu0) / (t1 - t0) if cpu0 is not None and cpu1 is not None else None
    return {"claims_per_s": round(claims / (t1 - t0), 1),
            "worker_cpu_pct": round(cpu * 100, 1) if cpu is not None else None}


def released_window(s: Scratch, run: str, workers: int, concurrency: int | None,
                    timeout: float) -> dict[str, Any]:
    """Pause, settle, start the workers, GO (resume + NOTIFY), wait for the measured jobs
    to be gone, stop the workers. See app/bench/workers.py for why a pause is the gate."""
    s.jobs.pause(s.queue)
    s.settle()
    group = s.workers(run, workers, concurrency)
    group.wait_ready()
    cpu0, stat0 = group.cpu_seconds(), steal_ticks()
    t0 = clock()
    s.jobs.resume(s.queue)
    s.jobs.notify([s.queue])
    t1 = wait_drained(lambda: s.store.pending_measured(s.queue), timeout, group)
    cpu1 = group.cpu_seconds()
    steal = steal_pct_since(stat0)
    group.stop()
    cpu = round(cpu1 - cpu0, 3) if cpu0 is not None and cpu1 is not None else None
    return {"seconds": t1 - t0, "group": group, "worker_cpu_s": cpu, "steal_pct": steal,
            "worker_settings": group.settings()}


def ran_in(group: WorkerGroup) -> list[int]:
    return [i for i, _ in read_ledgers(str(group.ledger_dir))]


# ------------------------------------------------------------------------------- latency


def latency(s: Scratch, n: int, interval_ms: float, concurrency: int,
            timeout: float) -> dict[str, Any]:
    """One idle worker; N jobs dispatched on a fixed grid `interval_ms` apart; latency is the
    job's start minus the return of its dispatch() (the job was committed then)."""
    s.settle()
    group = s.workers("latency", 1, concurrency)
    group.wait_ready()
    interval = interval_ms / 1000
    time.sleep(IDLE_S)
    warm = []
    for k in range(WARMUP_JOBS):
        c0 = clock()
        dispatch(BenchNoop({"i": -1 - k}))
        warm.append((c0, clock()))
        time.sleep(interval)
    wait_drained(lambda: s.store.count_queue(s.queue), timeout, group)
    time.sleep(IDLE_S)  # idle again: LISTEN, not a loop still busy with the warm-up
    calls = dispatch_on_grid(n, interval)
    wait_drained(lambda: s.store.count_queue(s.queue), timeout, group)
    group.stop()
    return latency_figures(s, group, calls, warm, interval_ms)


def dispatch_on_grid(n: int, interval: float) -> list[tuple[float, float]]:
    """dispatch() jobs 0 … n-1 on a fixed grid `interval` seconds apart; each call's
    (start, return) on the shared clock."""
    calls = []
    base = clock()
    for i in range(n):
        delay = base + i * interval - clock()
        if delay > 0:
            time.sleep(delay)
        c0 = clock()
        dispatch(BenchNoop({"i": i}))
        calls.append((c0, clock()))
    return calls


def latency_figures(s: Scratch, group: WorkerGroup, calls: list[tuple[float, float]],
                    warm: list[tuple[float, float]], interval_ms: float) -> dict[str, Any]:
    entries = read_ledgers(str(group.ledger_dir))
    n = len(calls)
    check_ran_once((i for i, _ in entries), n, "latency")
    check_ran_once((-1 - i for i, _ in entries), len(warm), "latency warm-up")
    totals = s.store.worker_totals(s.queue)
    require(totals.processed == n + len(warm) and totals.failed == 0,
            f"latency: the worker processed {totals.processed} jobs ({totals.failed} failed), "
            f"expected {n + len(warm)}")
    s.forget_workers()
    started = dict(entries)
    return {
        **latency_stats(started, calls, interval_ms),
        "cold_first_job_ms": round((started[-1] - warm[0][1]) * 1000, 2) if warm else None,
        "worker_settings": group.settings(),
    }


def latency_stats(started: dict[int, float], calls: list[tuple[float, float]],
                  interval_ms: float) -> dict[str, Any]:
    """Job i's start against the (call, return) of its dispatch(), in ms."""
    n = len(calls)
    from_commit = [(started[i] - calls[i][1]) * 1000 for i in range(n)]
    from_call = [(started[i] - calls[i][0]) * 1000 for i in range(n)]
    return {
        "jobs": n,
        "interval_ms": interval_ms,
        "median_ms": round(median(from_commit), 2),
        "p99_ms": round(percentile(from_commit, 0.99), 2),
        "max_ms": round(max(from_commit), 2),
        "call_to_start_median_ms": round(median(from_call), 2),
        "dispatch_call_median_ms": round(median([(b - a) * 1000 for a, b in calls]), 2),
    }


# ------------------------------------------------------------------------------- backlog


def backlog(s: Scratch, n: int, workers: int, concurrency: int, rows: int,
            timeout: float) -> dict[str, Any]:
    """The drain of N jobs with `rows` more waiting behind them, against the same with
    BACKLOG_SMALL waiting: the claim must not slow down as the backlog grows.

    The backlog is in the same queue at priority 1, the N measured jobs at priority 0, so
    every claim walks jobs_claim_idx in front of the whole backlog, and the backlog is older
    (inserted first): only the index order keeps it out of the way, as it must. The window
    ends when the last measured job is acknowledged; the workers then stop (SIGTERM), and
    the backlog is deleted.
    """
    small = backlog_run(s, n, workers, concurrency, BACKLOG_SMALL, timeout)
    large = backlog_run(s, n, workers, concurrency, rows, timeout)
    return {"jobs": n, "small": small, "large": large,
            "ratio": round(large["jobs_per_s"] / max(small["jobs_per_s"], 1), 2)}


def backlog_run(s: Scratch, n: int, workers: int, concurrency: int, rows: int,
                timeout: float) -> dict[str, Any]:
    s.jobs.pause(s.queue)  # before any row exists: the previous run's workers are gone
    s.store.insert_backlog(s.queue, s.id_prefix, payload.encode(BenchNoop({"i": -1})), rows)
    dispatch_many(jobs_numbered(n))
    s.vacuum_at_exit = True
    window = released_window(s, f"backlog-{rows}", workers, concurrency, timeout)
    check_ran_once(ran_in(window.pop("group")), n, f"drain with {rows:,} waiting")
    failed = s.store.count_failed(s.queue)
    require(failed == 0, f"drain with {rows:,} waiting: {failed} jobs failed")
    s.forget_workers()
    s.store.delete_jobs(s.queue)
    return {"waiting_rows": rows, **timed(n, window["seconds"]),
            "steal_pct": window["steal_pct"]}
