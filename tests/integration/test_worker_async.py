"""`async def` jobs run as tasks on one event loop per worker process (app/queue/event_loop.py),
with their timeouts enforced there: cancelled when they await past it, interrupted when they
block the loop (one blocked in C gets its worker replaced: tests/integration/test_worker.py)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from app.queue import dispatch, dispatch_many
from tests.jobs.basic import AsyncRecord, AsyncSpins, AsyncWhere
from tests.support import ledger, work


def test_async_jobs_run_side_by_side_on_one_event_loop(queue, engine):
    dispatch_many(AsyncWhere(f"w{n}", 0.2) for n in range(20))
    assert work("--concurrency", "20", "--quiet").returncode == 0
    places = {event for _, event in ledger(engine)}
    assert len(ledger(engine)) == 20
    assert len(places) == 1, places  # one loop, one thread, for all twenty


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
