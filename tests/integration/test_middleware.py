"""Job middleware in a real worker: the pipeline's order, Skip, ThrottlesExceptions, and
middleware() that returns something unusable."""

from __future__ import annotations

import sqlalchemy as sa

from app.bootstrap import make_context
from app.queue import context, dispatch
from tests.jobs.limited import (
    AsyncWrapped,
    NoHandle,
    NotAList,
    Skippable,
    Throttled,
    Wrapped,
)
from tests.support import count, ledger, work


def events_of(engine: sa.Engine, tag: str) -> list[str]:
    return [event for _tag, event in ledger(engine, tag)]


def test_a_custom_middleware_wraps_handle_outermost_first(queue, engine):
    dispatch(Wrapped("w"))
    assert work().returncode == 0
    assert events_of(engine, "w") == ["outer before", "inner before", "handle",
                                      "inner after", "outer after"]


def test_an_async_handle_runs_to_its_end_inside_the_middleware(queue, engine):
    dispatch(AsyncWrapped("a"))
    assert work().returncode == 0
    assert events_of(engine, "a") == ["outer before", "inner before", "handle",
                                      "inner after", "outer after"]


def test_skip_when_and_unless_finish_the_job_without_running_it(queue, engine):
    for tag, order_id in (("zero", 0), ("small", 5), ("large", 500)):
        dispatch(Skippable(tag, order_id))
    result = work()
    assert result.returncode == 0
    assert ledger(engine) == [("small", "ran")]
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0


def test_middleware_that_is_not_a_list_fails_the_job_once_not_the_worker(queue, engine):
    first = dispatch(NotAList())
    second = dispatch(NoHandle())
    result = work()
    assert result.returncode == 0, result.stderr
    assert ledger(engine) == []
    with engine.connect() as conn:
        failed = dict(conn.execute(sa.text(
            "SELECT id, exception FROM failed_jobs")).all())
        attempts = set(conn.execute(sa.text("SELECT attempts FROM failed_jobs")).scalars())
    assert "NotAList.middleware() must return a list, not Around" in failed[first]
    assert "NoHandle.middleware() returned object, which has no handle(job, next)" \
        in failed[second]
    assert attempts == {1}  # failed at once, though tries = 3


def test_throttles_exceptions_holds_the_job_back_without_counting_attempts(queue, engine):
    job_id = dispatch(Throttled("t", broken=True))
    result = work()
    assert result.returncode == 0, result.stderr
    # Two exceptions open the throttle for the rest of its 60 s: the third claim is put back.
    assert events_of(engine, "t") == ["start 1", "start 2"]
    assert f"{job_id}" in result.stdout and "LIMITED" in result.stdout
    with engine.connect() as conn:
        attempts, wait = conn.execute(sa.text(
            "SELECT attempts, EXTRACT(epoch FROM available_at - now()) FROM jobs "
            "WHERE id = :id"), {"id": job_id}).one()
    assert attempts == 2  # the held-back claim gave its attempt back
    assert 50 < wait <= 60


def test_a_success_forgives_the_exceptions_counted(queue, engine):
    dispatch(Throttled("ok", broken=False))
    assert work().returncode == 0
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO job_limits (key, kind, job_id) VALUES "
            "('throttle:throttle-ok', 'exception', 'e1')"))
    dispatch(Throttled("ok", broken=False))
    assert work().returncode == 0
    assert count(engine, "SELECT count(*) FROM job_limits WHERE kind = 'exception'") == 0
    assert events_of(engine, "ok") == ["start 1", "start 1"]


def test_dispatch_sync_runs_the_middleware_too(queue, engine, monkeypatch):
    monkeypatch.setenv("QUEUE_CONNECTION", "sync")
    context.use(make_context())
    dispatch(Wrapped("inline"))
    dispatch(Skippable("skipped", 0))
    assert ledger(engine) == [("inline", event) for event in (
        "outer before", "inner before", "handle", "inner after", "outer after")]
