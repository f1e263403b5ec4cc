"""CPU-bound jobs under `supervise` against one `queue:work` (issue 25's CPU-bound figure).

    python -m app.bench.cpu_bound [--jobs 2000] [--processes 2] [--rounds 3]

Each job is a pure-Python loop of ~5 ms (calibrated on this machine at start). A round drains
the same jobs twice, alternated: once with one `queue:work` process, once with `supervise`
running `--processes` children (balance off); each timing starts when the workers are up and
idle (their heartbeat rows written) and the jobs are dispatched at once, and ends when the
queue is empty. One GIL per process: the supervisor's figure is what the second core adds.
Run against a scratch database (DATABASE_URL): it clears its own queue only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import sqlalchemy as sa

from app.queue import Job, context, dispatch_many

QUEUE = "bench-cpu"
JOB_MS = 5.0


class CpuBound(Job):
    """A loop of `n` additions: ~5 ms of the interpreter, no I/O, no release of the GIL."""

    queue = QUEUE

    def __init__(self, n: int) -> None:
        self.n = n

    def handle(self) -> None:
        total = 0
        for i in range(self.n):
            total += i * i


def calibrated_loop(ms: float) -> int:
    """Iterations of CpuBound's loop that take `ms` of CPU here (the best of five tries, in
    process CPU time: other processes on a loaded machine do not shorten the jobs)."""
    probe = CpuBound(200_000)
    best = min(timed(probe.handle) for _ in range(5))
    return int(200_000 * ms / 1000 / best)


def timed(call: Callable[[], object]) -> float:
    start = time.process_time()
    call()
    return time.process_time() - start


def scalar(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql), {"q": QUEUE}).scalar_one())


def live_workers(engine: sa.Engine) -> int:
    return scalar(engine, "SELECT count(*) FROM workers WHERE stopped_at IS NULL "
                          "AND :q = ANY(queues)")


def drain(engine: sa.Engine, argv: list[str], env: dict[str, str], workers: int, jobs: int,
          loop: int) -> float:
    """Start the processes, wait until `workers` are up, dispatch, time the drain, stop."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while live_workers(engine) < workers:
            if proc.poll() is not None:
                _, err = proc.communicate()
                raise SystemExit(f"the workers exited: {err.decode()}")
            time.sleep(0.05)
        time.sleep(0.5)  # idle and listening
        start = time.perf_counter()
        # By its module's name, not __main__'s: the workers import it.
        from app.bench.cpu_bound import CpuBound as Named

        dispatch_many(Named(loop) for _ in range(jobs))
        while scalar(engine, "SELECT count(*) FROM jobs WHERE queue = :q"):
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    packages = os.environ.get("QUEUE_JOB_PACKAGES", "app.jobs")
    os.environ["QUEUE_JOB_PACKAGES"] = f"{packages},app.bench.cpu_bound"  # before the context
    engine = context.current().store.engine
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM jobs WHERE queue = :q"), {"q": QUEUE})
    loop = calibrated_loop(JOB_MS)
    env = {**os.environ, "QUEUE_SUPERVISORS": json.dumps({"bench": {
               "queues": [QUEUE], "balance": "off", "processes": args.processes,
               "sleep": 1}})}
    artisan = [sys.executable, "artisan.py"]
    # Not --quiet: supervise's children print their line per job too (to /dev/null here).
    one = [*artisan, "queue:work", "--queue", QUEUE, "--sleep", "1"]
    supervised = [*artisan, "supervise", "--supervisor", "bench"]
    rows = []
    for round_ in range(1, args.rounds + 1):
        single = drain(engine, one, env, 1, args.jobs, loop)
        many = drain(engine, supervised, env, args.processes, args.jobs, loop)
        rows.append((args.jobs / single, args.jobs / many))
        print(f"round {round_}: queue:work {args.jobs / single:,.0f} jobs/s, supervise "
              f"({args.processes} processes) {args.jobs / many:,.0f} jobs/s, "
              f"ratio {single / many:.2f} (load average {os.getloadavg()[0]:.1f})", flush=True)
    ratios = sorted(many / single for single, many in rows)
    print(f"{args.jobs} jobs of ~{JOB_MS:g} ms ({loop:,} iterations), median ratio "
          f"{ratios[len(ratios) // 2]:.2f} (all: {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
