"""A one-slot worker claims a few jobs ahead of the one it runs (app/queue/worker.py,
PREFETCH): it never hoards them behind a slow job, gives them back when it stops, and a
kill -9 loses none of them."""

from __future__ import annotations

import signal

import sqlalchemy as sa

from app.queue import dispatch_many
from tests.jobs.basic import KillsItsWorker, Record, StopsItsWorker
from tests.support import count, ledger, start_worker, wait_for, work

AHEAD = ("a1", "a2", "a3", "a4")
"""As many jobs as a default worker claims ahead (PREFETCH)."""


def waiting_unstarted(engine: sa.Engine) -> int:
    """Jobs back on the queue, not reserved, their attempt not counted."""
    return count(engine, "SELECT count(*) FROM jobs WHERE reserved_at IS NULL AND attempts = 0")


def runs_by_pid(engine: sa.Engine) -> dict[str, set[int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT tag, pid FROM ledger WHERE event = 'start'"))
        found: dict[str, set[int]] = {}
        for tag, pid in rows:
            found.setdefault(tag, set()).add(pid)
        return found


def test_a_slow_job_does_not_hoard_the_jobs_claimed_ahead_of_it(queue, engine):
    dispatch_many([Record("slow", 60.0), *(Record(tag) for tag in AHEAD)])
    slow_worker = start_worker("--sleep", "0.2", "--quiet")
    try:
        assert wait_for(lambda: ("slow", "start") in ledger(engine), 20)
        assert wait_for(lambda: waiting_unstarted(engine) == len(AHEAD), 10)
        assert work("--quiet").returncode == 0  # another worker takes them meanwhile
        assert ("slow", "end") not in ledger(engine)
    finally:
        slow_worker.kill()  # rather than wait a minute for the slow job
        slow_worker.wait()
    runs = runs_by_pid(engine)
    assert all(len(runs[tag]) == 1 for tag in AHEAD)
    assert not set.union(*(runs[tag] for tag in AHEAD)) & runs["slow"]
    assert sorted(tag for tag, event in ledger(engine) if event == "end") == sorted(AHEAD)


def test_a_stopping_worker_gives_back_what_it_claimed_ahead_unstarted(queue, engine):
    dispatch_many([StopsItsWorker("stopper"), *(Record(tag) for tag in AHEAD)])
    proc = start_worker("--sleep", "0.2", "--quiet")
    assert proc.wait(20) == 0
    assert ledger(engine) == [("stopper", "start")]
    assert waiting_unstarted(engine) == len(AHEAD)
    assert count(engine, "SELECT count(*) FROM jobs") == len(AHEAD)

    assert work("--quiet").returncode == 0
    assert sorted(tag for tag, event in ledger(engine) if event == "end") == list(AHEAD)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM jobs")).scalar_one() == 0


def test_a_kill_9_with_jobs_claimed_ahead_loses_none(queue, engine):
    dispatch_many([KillsItsWorker("killer"), *(Record(tag) for tag in AHEAD)])
    env = {"QUEUE_RETRY_AFTER": "2"}
    victim = start_worker("--sleep", "0.2", "--quiet", env=env)
    assert victim.wait(20) == -signal.SIGKILL
    # The victim died holding the killer and the jobs it claimed ahead of it (in one claim:
    # the killer dies within microseconds of its start, long before PREFETCH_HOLD_S).
    assert count(engine, "SELECT count(*) FROM jobs WHERE reserved_at IS NOT NULL") == 5
    rescuer = start_worker("--sleep", "0.2", "--quiet", env=env)
    try:
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 30)
    finally:
        rescuer.send_signal(signal.SIGTERM)
        assert rescuer.wait(20) == 0
    runs = runs_by_pid(engine)
    assert sorted(runs) == sorted(["killer", *AHEAD])
    assert all(len(pids) == 1 for pids in runs.values())
    assert sorted(tag for tag, event in ledger(engine) if event == "end") == sorted(AHEAD)
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0


def test_a_one_slot_worker_runs_the_jobs_claimed_ahead_one_at_a_time(queue, engine):
    # Its job thread takes the next job claimed ahead itself, before it posts the result of
    # the last: the main thread, recording that result, must never start one beside it.
    tags = [f"j{n:03}" for n in range(120)]
    dispatch_many(Record(tag) for tag in tags)
    assert work("--quiet").returncode == 0
    events = ledger(engine)  # in the order they were written
    assert len(events) == 2 * len(tags)
    for (tag, event), (next_tag, next_event) in zip(events[::2], events[1::2], strict=True):
        assert (event, next_event, next_tag) == ("start", "end", tag), events
    assert sorted(tag for tag, _ in events[::2]) == tags
