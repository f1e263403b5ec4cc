"""Rough figures: the Redis store against the PostgreSQL one on the same machine, through
the store API alone (no worker, no dispatch layer). A Redis of its own on loopback; the
PostgreSQL of BENCH_DATABASE_URL (its queue tables migrated).

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/skiplock_x \\
        .venv/bin/python -m tests.redis_store_bench
"""

from __future__ import annotations

import os
import time
from typing import Any

import sqlalchemy as sa

from app.queue.connections.database.store import JobStore
from app.queue.connections.records import NewJob
from app.queue.connections.redis import RedisStore
from app.queue.ids import new_id, new_ids
from tests.redis_support import redis_server

PAYLOAD = '{"job": "x", "args": []}'


def single(store: Any, queue: str, n: int = 3000) -> tuple[float, float, float]:
    """dispatch()es one after another: per second, p50 and p99 in ms."""
    latencies = []
    for _ in range(n):
        job = NewJob(new_id(), queue, PAYLOAD, 0)
        start = time.perf_counter()
        store.insert_job(job, 0.0, None)
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    return n / sum(latencies), latencies[n // 2] * 1e3, latencies[int(n * 0.99)] * 1e3


def bulk(store: Any, queue: str, n: int = 20_000) -> float:
    """One dispatch_many of `n`: jobs per second."""
    jobs = [NewJob(job_id, queue, PAYLOAD, 0) for job_id in new_ids(n)]
    start = time.perf_counter()
    store.insert_jobs(jobs)
    return n / (time.perf_counter() - start)


def drain(store: Any, queue: str, worker: str, batch: int = 10) -> float:
    """One claimer taking everything, `batch` a claim with the last claim's acks: jobs/s."""
    store.register_worker(worker, "bench", "localhost", 1, [queue], 1)
    claimer, done, n = store.claimer(), [], 0
    start = time.perf_counter()
    while claimed := claimer.claim(worker, [queue], batch, acks=done):
        done = [job.id for job in claimed]
        n += len(claimed)
    claimer.acknowledge(worker, done)
    return n / (time.perf_counter() - start)


def report(name: str, store: Any) -> None:
    queue = f"bench-{new_id()}"
    per_second, p50, p99 = single(store, queue)
    many = bulk(store, queue)
    drained = drain(store, queue, f"bench-{new_id()}")
    print(f"{name}: dispatch() {per_second:,.0f}/s p50 {p50:.3f} ms p99 {p99:.3f} ms; "
          f"dispatch_many 20k {many:,.0f} jobs/s; one claimer (claim 10 + acks) "
          f"{drained:,.0f} jobs/s")


def main() -> None:
    with redis_server() as port:
        for _ in range(2):
            report("redis", RedisStore(f"redis://127.0.0.1:{port}/0"))
    engine = sa.create_engine(os.environ["BENCH_DATABASE_URL"])
    for _ in range(2):
        report("postgresql", JobStore(engine))


if __name__ == "__main__":
    main()
