"""Limits of job middleware across real worker processes: RateLimited, WithoutOverlapping
(and kill -9 of the holder), ConcurrencyLimit. The ledger holds when each handle() began and
ended, taken in the job (tests.jobs.limited.note)."""

from __future__ import annotations

import itertools
import time

import sqlalchemy as sa

from app.queue import dispatch, dispatch_many
from tests.jobs.limited import NotOverlapping, RateLimitedJob, ThreeAtOnce
from tests.reliability.support import Fleet
from tests.support import count, wait_for

GRANT_TO_START = 0.05
"""Seconds: a start is noted in handle(), after the limit's transaction committed and
returned, so starts spaced exactly `per` apart by the limit can look up to this much closer
in the ledger. The limit itself counts the times it granted."""


def noted(engine: sa.Engine, prefix: str) -> list[tuple[str, str, float]]:
    """(tag, event, unix time) of ledger rows whose event starts with `prefix`, by time."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT tag, event, EXTRACT(epoch FROM at)::float8 FROM ledger "
            "WHERE event LIKE :prefix ORDER BY at"), {"prefix": f"{prefix}%"})
        return [tuple(row) for row in rows]


def runs(engine: sa.Engine) -> list[tuple[float, float]]:
    """(start, end) of every run, by start."""
    starts = {tag: at for tag, _event, at in noted(engine, "start")}
    ends = {tag: at for tag, _event, at in noted(engine, "end")}
    return sorted((starts[tag], ends[tag]) for tag in starts)


def test_rate_limited_starts_at_most_five_in_any_second_across_processes(queue, engine):
    dispatch_many([RateLimitedJob(f"r{i}", "partner") for i in range(20)])
    with Fleet(("--concurrency", "4")) as fleet:
        fleet.start()
        fleet.start()
        assert wait_for(lambda: len(noted(engine, "end")) == 20, 60)
        fleet.stop(engine=engine)
    starts = noted(engine, "start")
    assert {event for _tag, event, _at in starts} == {"start 1"}  # no attempt was counted
    times = [at for _tag, _event, at in starts]
    closest = min(times[i + 5] - times[i] for i in range(len(times) - 5))
    assert closest >= 1.0 - GRANT_TO_START, closest
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0


def test_without_overlapping_runs_one_at_a_time_across_processes(queue, engine):
    dispatch_many([NotOverlapping(f"o{i}", "order:7", 0.1) for i in range(8)])
    with Fleet(("--concurrency", "4")) as fleet:
        fleet.start()
        fleet.start()
        assert wait_for(lambda: len(noted(engine, "end")) == 8, 60)
        fleet.stop(engine=engine)
    done = runs(engine)
    assert len(done) == 8
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(done))
    assert {event for _tag, event, _at in noted(engine, "start")} == {"start 1"}


def test_a_holder_killed_with_sigkill_frees_its_key_within_retry_after(queue, engine):
    retry_after = 3.0
    dispatch(NotOverlapping("holder", "order:8", 120))
    with Fleet(("--concurrency", "4"), env={"QUEUE_RETRY_AFTER": f"{retry_after:g}"}) as fleet:
        holder = fleet.start()
        assert wait_for(lambda: noted(engine, "start"), 30)
        dispatch(NotOverlapping("waiter", "order:8"))
        fleet.start()
        assert wait_for(lambda: count(
            engine, "SELECT count(*) FROM job_limits WHERE kind = 'waiting'") == 1, 30)
        pid = fleet.procs[holder].pid
        fleet.kill(holder)
        killed_at = time.time()
        assert wait_for(lambda: [tag for tag, _e, _at in noted(engine, "start")
                                 if tag == "waiter"], 30)
        fleet.stop(engine=engine)
    started = next(at for tag, _event, at in noted(engine, "start") if tag == "waiter")
    with engine.connect() as conn:
        last_beat = conn.execute(sa.text(
            "SELECT EXTRACT(epoch FROM heartbeat_at)::float8 FROM workers WHERE pid = :pid"),
            {"pid": pid}).scalar_one()
    # Freed by the holder's heartbeat running out, not before (it was alive until the kill)...
    assert started >= last_beat + retry_after - 0.01, started - last_beat
    # ...and within QUEUE_RETRY_AFTER of the kill, give or take the waiting job's claim and
    # start, which take a second or two on a loaded machine (without the expiry the key would
    # stay held and the wait above would run out).
    assert started - killed_at <= retry_after + 3.0, started - killed_at


def test_concurrency_limit_runs_at_most_three_at_once_across_processes(queue, engine):
    dispatch_many([ThreeAtOnce(f"c{i}", "partner", 0.3) for i in range(18)])
    with Fleet(("--concurrency", "4")) as fleet:
        for _ in range(3):
            fleet.start()
        assert wait_for(lambda: len(noted(engine, "end")) == 18, 90)
        fleet.stop(engine=engine)
    changes = sorted([(start, 1) for start, _end in runs(engine)]
                     + [(end, -1) for _start, end in runs(engine)])
    running, most = 0, 0
    for _at, change in changes:
        running += change
        most = max(most, running)
    assert most == 3  # never more, and the limit was used
    assert {event for _tag, event, _at in noted(engine, "start")} == {"start 1"}
