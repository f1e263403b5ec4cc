"""Workers that die (SIGKILL at random moments) and jobs that outlive QUEUE_RETRY_AFTER on live
workers: no job is lost, and none ever runs in two processes at once."""

from __future__ import annotations

import random
import time

import sqlalchemy as sa

from app.queue import dispatch, dispatch_many
from tests.jobs.basic import AsyncRecord, Ledgered, Record
from tests.jobs.reliability import Busy
from tests.reliability.support import Fleet, ledger_runs, overlaps, wait_for
from tests.support import count

ENV = {"QUEUE_RETRY_AFTER": "2"}
JOBS = 3000
WORKERS, CONCURRENCY = 4, 4
KILLS = 4
"""Half of the 8 processes the test starts (4, then one replacement per kill) die by SIGKILL."""


def ends(engine: sa.Engine) -> int:
    return count(engine, "SELECT count(*) FROM ledger WHERE event = 'end'")


def busy_workers(engine: sa.Engine, fleet: Fleet) -> list[str]:
    """Live workers that have started jobs: killing one of those loses work in flight."""
    with engine.connect() as conn:
        working = set(conn.execute(sa.text("SELECT DISTINCT worker FROM ledger")).scalars())
    return sorted(working & set(fleet.alive()))


def test_sigkilled_workers_lose_no_job_and_no_job_runs_twice_at_once(queue, engine):
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    dispatch_many(Ledgered(n, 0.01) for n in range(JOBS))
    # Random moments while jobs flow: after a random share of the jobs, plus a random pause.
    moments = sorted(rng.uniform(0.1, 0.7) * JOBS for _ in range(KILLS))
    started = time.monotonic()
    with Fleet(("--concurrency", str(CONCURRENCY), "--sleep", "0.2", "--quiet"),
               env=ENV) as fleet:
        for _ in range(WORKERS):
            fleet.start()
        for moment in moments:
            assert wait_for(lambda m=moment: ends(engine) >= m, 60), \
                f"stuck at {ends(engine)} ends (seed {seed})"
            time.sleep(rng.uniform(0, 0.1))
            fleet.kill(rng.choice(busy_workers(engine, fleet)))
            fleet.start()
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 120), \
            f"{count(engine, 'SELECT count(*) FROM jobs')} jobs left (seed {seed})"
        drained = time.monotonic() - started
        outputs = fleet.stop(engine=engine)

    killed = fleet.killed
    runs = ledger_runs(engine)
    assert len(runs) == JOBS, f"{JOBS - len(runs)} jobs never started (seed {seed})"
    reruns = 0
    for tag, job_runs in runs.items():
        assert job_runs[-1].end is not None, f"job {tag} never completed: {job_runs}"
        # Another run only after a run on a worker that was killed.
        earlier = [run for run in job_runs[:-1] if run.worker not in killed]
        assert not earlier, f"job {tag} ran again after a run on a live worker: {job_runs}"
        assert not overlaps(job_runs, killed), f"job {tag} ran twice at once: {job_runs}"
        for run in job_runs:
            assert run.end is not None or run.worker in killed, f"{tag}: {run} never ended"
        reruns += len(job_runs) - 1
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0
    assert reruns <= CONCURRENCY * len(killed), f"{reruns} re-runs for {len(killed)} kills"
    for label, (code, err) in outputs.items():
        if label not in killed:
            assert code == 0 and "Traceback" not in err, (label, err)
    print(f"\nkill -9: {JOBS} jobs, {WORKERS} workers x {CONCURRENCY} slots, {len(killed)} of "
          f"{len(fleet.procs)} worker processes SIGKILLed ({CONCURRENCY * len(killed)} slots), "
          f"{reruns} re-runs, drained in {drained:.1f}s (seed {seed})")


def test_jobs_longer_than_retry_after_run_once_on_live_workers(queue, engine):
    """Sleeping, async and CPU-bound jobs of 3x QUEUE_RETRY_AFTER, with an idle slot on each
    worker claiming all along: none is handed to a second worker."""
    seconds = 6.0
    long_jobs = {"sleeps": Record("sleeps", seconds), "awaits": AsyncRecord("awaits", seconds),
                 "spins": Busy("spins", seconds)}
    for job in long_jobs.values():
        dispatch(job)
    with Fleet(("--concurrency", "2", "--sleep", "0.2", "--quiet"), env=ENV) as fleet:
        fleet.start()
        fleet.start()
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM ledger "
                                      "WHERE event = 'start'") == len(long_jobs), 30)
        shorts = 0
        while count(engine, "SELECT count(*) FROM ledger WHERE event = 'end' "
                    "AND tag = ANY(:tags)", tags=list(long_jobs)) < len(long_jobs):
            dispatch(Record(f"short-{shorts}"))  # keeps the free slots claiming
            shorts += 1
            assert shorts < 400, "the long jobs never ended"
            time.sleep(0.05)
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 20)
        outputs = fleet.stop(engine=engine)

    runs = ledger_runs(engine)
    for tag in long_jobs:
        assert len(runs[tag]) == 1, f"{tag} ran {len(runs[tag])} times: {runs[tag]}"
        run = runs[tag][0]
        assert run.end is not None
        assert (run.end - run.start).total_seconds() >= seconds - 0.1
    assert all(len(job_runs) == 1 for job_runs in runs.values())
    assert count(engine, "SELECT count(*) FROM workers WHERE exit_reason = 'no heartbeat'") == 0
    for label, (code, err) in outputs.items():
        assert code == 0 and "gave back" not in err and "presumed dead" not in err, (label, err)
    print(f"\nlong jobs: {len(long_jobs)} jobs of {seconds:g}s (QUEUE_RETRY_AFTER=2) beside "
          f"{shorts} short ones on 2 workers: each ran once")
