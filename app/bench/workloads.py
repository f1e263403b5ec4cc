"""The figures of real workloads (issue 18): async jobs, the default worker, jobs that wait on
I/O, many dispatching processes, big payloads, latency under load, and weeks of churn.

Measured as figures.py measures the no-op drain: real `queue:work` processes released at once
on a pre-filled scratch queue, every job checked to have run exactly once.
"""

from __future__ import annotations

import time
from typing import Any

from app.bench import producers
from app.bench.bench_noop import (
    BenchNoop,
    BenchNoopAsync,
    BenchSleep,
    BenchSleepAsync,
    clock,
    read_ledgers,
)
from app.bench.checks import check_ran_once, rate, require
from app.bench.figures import (
    IDLE_S,
    dispatch_on_grid,
    drain,
    latency_stats,
    ran_in,
    timed,
)
from app.bench.scratch import Scratch
from app.bench.workers import WorkerGroup, wait_drained
from app.queue import dispatch_many

IO_WAIT_S = 0.05
"""What an I/O-bound job waits, as a stand-in for a call over the network."""
IO_ASYNC_CONCURRENCY = 500
IO_THREADS_CONCURRENCY = 200
PAYLOAD_BYTES = 10_240
LOAD_PER_S = 5_000
"""Latency under load: the flow of other jobs the worker drains meanwhile."""
LOAD_FIRST = 10_000_000
"""Numbers of the flow's jobs: far above the markers', which the checks count apart."""
CHURN_ROUND = 100_000
"""Churn: the drain rate is taken per round of this many jobs (the issue compares the first
100,000 with the last)."""


def drain_of(s: Scratch, jobs: list[BenchNoop], workers: int, concurrency: int | None,
             timeout: float) -> dict[str, Any]:
    """Pre-fill the scratch queue with `jobs` (numbered 0 … n-1) and drain it."""
    dispatch_many(jobs)
    return drain(s, len(jobs), workers, concurrency, timeout)


def numbered(job_class: type[BenchNoop], n: int, **args: Any) -> list[BenchNoop]:
    return [job_class({"i": i, **args}) for i in range(n)]


def compared(plain: dict[str, Any], other: dict[str, Any], name: str) -> dict[str, Any]:
    return {"plain": plain, name: other,
            "ratio": round(other["jobs_per_s"] / max(plain["jobs_per_s"], 1), 2)}


# ------------------------------------------------------------------------- drains


def drain_async(s: Scratch, n: int, timeout: float) -> dict[str, Any]:
    """The no-op as `async def` against the plain one, one worker at concurrency 10 and 50;
    plain first, then async, at each concurrency, so the two see the same machine."""
    out = {}
    for concurrency in (10, 50):
        plain = drain_of(s, numbered(BenchNoop, n), 1, concurrency, timeout)
        coroutine = drain_of(s, numbered(BenchNoopAsync, n), 1, concurrency, timeout)
        out[f"c{concurrency}"] = compared(plain, coroutine, "async")
    return out


def default_worker(s: Scratch, n: int, timeout: float) -> dict[str, Any]:
    """`queue:work` with no options (what a user who reads no docs gets), 1 and 2 processes."""
    return {f"w{workers}": drain_of(s, numbered(BenchNoop, n), workers, None, timeout)
            for workers in (1, 2)}


def io_bound(s: Scratch, n: int, job_class: type[BenchNoop], concurrency: int,
             timeout: float) -> dict[str, Any]:
    """N jobs that each wait IO_WAIT_S, one worker process at `concurrency`: with every slot
    waiting all the time it would do concurrency / wait jobs/s, the ideal."""
    result = drain_of(s, numbered(job_class, n, sleep=IO_WAIT_S), 1, concurrency, timeout)
    ideal = concurrency / IO_WAIT_S
    return {**result, "wait_s": IO_WAIT_S, "ideal_jobs_per_s": round(ideal),
            "pct_of_ideal": round(100 * result["jobs_per_s"] / ideal, 1)}


def io_async(s: Scratch, n: int, timeout: float) -> dict[str, Any]:
    return io_bound(s, n, BenchSleepAsync, IO_ASYNC_CONCURRENCY, timeout)


def io_threads(s: Scratch, n: int, timeout: float) -> dict[str, Any]:
    return io_bound(s, n, BenchSleep, IO_THREADS_CONCURRENCY, timeout)


def payload(s: Scratch, n: int, concurrency: int, timeout: float) -> dict[str, Any]:
    """Jobs carrying PAYLOAD_BYTES of arguments against the no-op, same worker, back to back."""
    plain = drain_of(s, numbered(BenchNoop, n), 1, concurrency, timeout)
    big = drain_of(s, numbered(BenchNoop, n, pad="x" * PAYLOAD_BYTES), 1, concurrency, timeout)
    return {**compared(plain, big, "payload"), "payload_bytes": PAYLOAD_BYTES}


# ------------------------------------------------------------------- dispatching


def dispatchers(s: Scratch, processes: int, each: int) -> dict[str, Any]:
    """`processes` processes (as web processes would) each make `each` dispatch() calls, all
    released at once; the window runs from GO to the last one's last commit."""
    s.settle()
    started = [producers.start(producers.dispatch_each, s.queue, k * each, each)
               for k in range(processes)]
    producers.wait_ready(started)
    t0 = clock()
    for _, _, go, _ in started:
        go.set()
    ends = [out.get(timeout=300)[1] for _, _, _, out in started]
    for process, _, _, _ in started:
        process.join()
    n = processes * each
    enqueued = s.store.count_queue(s.queue)
    require(enqueued == n, f"dispatchers: {enqueued} rows on the queue after {n} dispatch() calls")
    s.store.delete_jobs(s.queue)
    return {**timed(n, max(ends) - t0), "processes": processes, "each": each}


def latency_under_load(s: Scratch, n: int, interval_ms: float, concurrency: int,
                       timeout: float) -> dict[str, Any]:
    """The latency figure (committed dispatch → start of N marker jobs on a grid) while another
    process keeps LOAD_PER_S jobs a second flowing through the same queue and worker."""
    s.settle()
    group = s.workers("latency-load", 1, concurrency)
    group.wait_ready()
    flow = producers.start(producers.keep_flowing, s.queue, LOAD_FIRST, LOAD_PER_S)
    producers.wait_ready([flow])
    process, _, go, out = flow
    go.set()
    time.sleep(IDLE_S)  # the flow is steady before the first marker
    calls = dispatch_on_grid(n, interval_ms / 1000)
    go.clear()
    sent, seconds = out.get(timeout=60)
    process.join()
    wait_drained(lambda: s.store.count_queue(s.queue), timeout, group)
    group.stop()
    entries = read_ledgers(str(group.ledger_dir))
    check_ran_once((i for i, _ in entries), n, "latency under load")
    check_ran_once((i - LOAD_FIRST for i, _ in entries), sent, "latency under load, the flow")
    s.forget_workers()
    return {**latency_stats(dict(entries), calls, interval_ms),
            "load_jobs_per_s": rate(sent, seconds), "worker_settings": group.settings()}


# -------------------------------------------------------------------------- churn


def churn(s: Scratch, n: int, workers: int, concurrency: int,
          timeout: float) -> dict[str, Any]:
    """N jobs through one queue in rounds of CHURN_ROUND, with no VACUUM between them (nor
    autovacuum, where the server has it off): the drain rate of each round, the dead rows and
    the pages a claim reads as they pile up, and the workers' memory over the whole run.

    Each round is a window of its own: pause, pre-fill, resume, wait for the queue to empty.
    The workers live through every round, so the memory figure is RSS when idle (started,
    nothing run), after the first round, and at the end."""
    size = min(CHURN_ROUND, max(1, n // 2))
    s.jobs.pause(s.queue)
    s.settle()  # once, before the first round only
    group = s.workers("churn", workers, concurrency)
    group.wait_ready()
    rss_idle = group.rss_mb()
    rounds, done, rss_first = [], 0, rss_idle
    while done < n:
        count = min(size, n - done)
        rounds.append(churn_round(s, group, done, count, timeout))
        done += count
        if len(rounds) == 1:
            rss_first = group.rss_mb()
    rss_end = group.rss_mb()
    group.stop()
    check_ran_once(ran_in(group), n, "churn")
    s.forget_workers()
    first, last = rounds[0]["jobs_per_s"], rounds[-1]["jobs_per_s"]
    return {"jobs": n, "round": size, "rounds": rounds,
            "last_over_first": round(last / max(first, 1), 2),
            "memory": {"idle_mb": max(rss_idle), "after_first_round_mb": max(rss_first),
                       "end_mb": max(rss_end),
                       "growth_mb": round(max(e - f for e, f in zip(rss_end, rss_first,
                                                                     strict=True)), 1)},
            "worker_settings": group.settings()}


def churn_round(s: Scratch, group: WorkerGroup, first: int, count: int,
                timeout: float) -> dict[str, Any]:
    s.jobs.pause(s.queue)
    dispatch_many(BenchNoop({"i": first + k}) for k in range(count))
    t0 = clock()
    s.jobs.resume(s.queue)
    s.jobs.notify([s.queue])
    t1 = wait_drained(lambda: s.store.pending_measured(s.queue), timeout, group)
    return {**timed(count, t1 - t0), **s.store.jobs_bloat(),
            "claim_pages": s.store.claim_probe_pages(s.queue)}
