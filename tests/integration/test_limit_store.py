"""LimitStore against a real PostgreSQL: the wake-up of a job waiting for a concurrency limit
is never lost, whichever of the holder's free and the waiter's put-back commits first."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from app.queue import dispatch
from app.queue.connections.database.sql import LIMIT_QUERIES
from tests.jobs.basic import Record
from tests.support import claim, count, wait_for

KEY = "overlap:order:1"


def waiting_and_holding(queue, engine) -> str:
    """A job claimed by worker w1 that a limit just held back (its waiting mark written,
    its put-back not yet), while job 'holder' holds KEY."""
    waiter = dispatch(Record("waiter"))
    claim(queue.store, "w1", ["default"], 1)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO job_limits (key, kind, job_id, at) VALUES "
            "(:key, 'holding', 'holder', now()), "
            "(:key, 'waiting', :waiter, now() + interval '90 seconds')"),
            {"key": KEY, "waiter": waiter})
    return waiter


def due_now(engine, job_id: str) -> bool:
    return count(engine, "SELECT count(*) FROM jobs WHERE id = :id AND reserved_at IS NULL "
                         "AND available_at <= now()", id=job_id) == 1


def test_a_holder_that_frees_while_the_waiter_is_put_back_wakes_it(queue, engine):
    waiter = waiting_and_holding(queue, engine)
    # The free commits only once the put-back has begun (and waits for the row the free
    # updated, or, before the fix, had already missed the free's uncommitted mark).
    with engine.connect() as freeing:
        freeing.execute(LIMIT_QUERIES["lock_limit_key"], {"key": KEY})
        freeing.execute(LIMIT_QUERIES["free_hold"], {"key": KEY, "job_id": "holder"})
        put_back = threading.Thread(
            target=queue.store.release_limited, args=("w1", waiter, 90.0))
        put_back.start()
        assert wait_for(lambda: not put_back.is_alive() or count(
            engine, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'UPDATE jobs%'") == 1, 10)
        freeing.commit()
        put_back.join(10)
    assert due_now(engine, waiter)
    assert count(engine, "SELECT attempts FROM jobs WHERE id = :id", id=waiter) == 0


def test_a_holder_that_frees_after_the_waiter_was_put_back_wakes_it(queue, engine):
    waiter = waiting_and_holding(queue, engine)
    assert queue.store.release_limited("w1", waiter, 90.0)
    assert not due_now(engine, waiter)
    queue.limits.free_hold(KEY, "holder")
    assert due_now(engine, waiter)
