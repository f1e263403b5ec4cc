"""`async def` jobs run as tasks on one event loop per worker process (app/queue/event_loop.py),
with their timeouts enforced there: cancelled when they await past it, interrupted when they
block the loop (one blocked in C gets its worker replaced: tests/integration/test_worker.py)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from app.queue import dispatch, dispatch_many
from tests.jobs.basic import (
    AsyncJobThreads,
    AsyncRecord,
    AsyncSleeps,
    AsyncSleepsLonger,
    AsyncSpins,
    AsyncWhere,
)
from tests.support import count, ledger, start_worker, wait_for, work


def test_async_jobs_run_side_by_side_on_one_event_loop(queue, engine):
    dispatch_many(AsyncWhere(f"w{n}", 0.2) for n in range(20))
    assert work("--concurrency", "20", "--quiet").returncode == 0
    places = {event for _, event in ledger(engine)}
    assert len(ledger(engine)) == 20
    assert len(places) == 1, places  # one loop, one thread, for all twenty


def test_async_jobs_start_on_the_loop_without_a_job_thread(queue, engine):
    # Decoded on the loop's own thread, every job of a claim in one hand-over: no job
    # thread is started for them (each used to pass through one).
    dispatch_many(AsyncJobThreads(f"t{n}", 0.2) for n in range(30))
    assert work("--concurrency", "30", "--quiet").returncode == 0
    events = ledger(engine)
    assert len(events) == 30
    assert {event for _, event in events} == {"job threads 0"}


def test_tasks_of_two_timeouts_each_stop_at_their_own(queue, engine):
    # One timer serves every task's deadline on the shared loop: a task is cancelled at its
    # own timeout (2 s or 4 s), never at another's, and one ending in time is left alone.
    dispatch_many([*(AsyncSleeps(f"short-late{n}", 3.0) for n in range(3)),
                   *(AsyncSleeps(f"short-quick{n}", 0.3) for n in range(3)),
                   *(AsyncSleepsLonger(f"long-quick{n}", 3.0) for n in range(3)),
                   *(AsyncSleepsLonger(f"long-late{n}", 6.0) for n in range(3))])
    assert work("--concurrency", "12", "--quiet", timeout=60).returncode == 0
    events = ledger(engine)
    for kind, outcome in [("short-late", "failed: JobTimeout"), ("short-quick", "end"),
                          ("long-quick", "end"), ("long-late", "failed: JobTimeout")]:
        assert {(f"{kind}{n}", outcome) for n in range(3)} <= set(events), kind
    assert not {tag for tag, event in events if event == "end"} & {
        *(f"short-late{n}" for n in range(3)), *(f"long-late{n}" for n in range(3))}
    with engine.connect() as conn:
        texts = conn.execute(sa.text("SELECT exception FROM failed_jobs")).scalars().all()
    assert sorted(text.split("\n")[0].split(" ran past ")[1] for text in texts) == [
        "its timeout of 2s", "its timeout of 2s", "its timeout of 2s",
        "its timeout of 4s", "its timeout of 4s", "its timeout of 4s"]


def test_an_async_job_blocking_the_loop_past_its_timeout_fails_alone(queue, engine):
    dispatch(AsyncSpins("spin", 30))
    dispatch_many(AsyncRecord(f"r{n}", 0.5) for n in range(4))
    started = time.monotonic()
    result = work("--concurrency", "5", "--quiet", timeout=60)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 20
    events = ledger(engine)
    assert ("spin", "failed: JobTimeout") in events and ("spin", "end") not in events
    assert sorted(tag for tag, event in events if event == "end") == [f"r{n}" for n in range(4)]
    with engine.connect() as conn:
        text = conn.execute(sa.text("SELECT exception FROM failed_jobs")).scalar_one()
    assert "ran past its timeout of 2s" in text


def test_a_claim_takes_at_most_100_jobs(queue, engine):
    # Claims of a few hundred rows start jobs in lockstep: they end together and wait
    # together for the next big claim (MAX_CLAIM). The jobs a claim took share its now().
    dispatch_many(AsyncRecord(f"c{n}", 3.0) for n in range(250))
    proc = start_worker("--concurrency", "250", "--quiet")
    try:
        assert wait_for(lambda: count(
            engine, "SELECT count(*) FROM jobs WHERE reserved_at IS NOT NULL") == 250, 20)
        with engine.connect() as conn:
            claims = conn.execute(sa.text(
                "SELECT count(*) FROM jobs GROUP BY reserved_at")).scalars().all()
    finally:
        proc.terminate()
        proc.wait(30)
    assert max(claims) <= 100 and sum(claims) == 250, claims
