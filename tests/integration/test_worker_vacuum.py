"""The bloat guard (app/queue/vacuum.py): a worker vacuums `jobs` once QUEUE_VACUUM_EVERY rows
have gone in since its last vacuum, as nothing else does on a server with autovacuum off."""

from __future__ import annotations

import signal

import sqlalchemy as sa

from app.queue import dispatch_many
from tests.jobs.basic import Record
from tests.support import count, start_worker, wait_for

FAST_BEATS = {"QUEUE_RETRY_AFTER": "2"}
"""A beat every 0.5 s: the guard looks after each one."""


def vacuums_of_jobs(engine: sa.Engine) -> int:
    """Manual VACUUMs of jobs (autovacuum's are counted apart, and are off on this server)."""
    return count(engine, "SELECT vacuum_count FROM pg_stat_user_tables "
                         "WHERE relid = 'jobs'::regclass")


def drain_with(engine: sa.Engine, every: str, beats_for: float) -> int:
    """Drain 150 jobs with QUEUE_VACUUM_EVERY=`every`, then let the worker beat for up to
    `beats_for` seconds; return how many VACUUMs of jobs it ran."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM jobs"))  # forget the rows earlier tests inserted
    before = vacuums_of_jobs(engine)
    with engine.begin() as conn:  # the inserts reach the statistics once this commits
        dispatch_many((Record(f"r{n}") for n in range(150)), connection=conn)
        conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))
    proc = start_worker("--concurrency", "10", "--quiet",
                        env={**FAST_BEATS, "QUEUE_VACUUM_EVERY": every})
    try:
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 60)
        wait_for(lambda: vacuums_of_jobs(engine) > before, beats_for)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in stderr, stderr
    return vacuums_of_jobs(engine) - before


def test_a_worker_vacuums_jobs_after_every_so_many_rows(queue, engine):
    assert drain_with(engine, every="100", beats_for=30) >= 1


def test_no_vacuum_below_the_threshold_or_when_turned_off(queue, engine):
    assert drain_with(engine, every="1000", beats_for=3) == 0
    assert drain_with(engine, every="0", beats_for=3) == 0
