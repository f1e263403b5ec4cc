"""Chains on a real PostgreSQL with real worker processes: order, failure, catch."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.queue import QueueError, chain
from tests.jobs.compose import Callback, Step
from tests.reliability.support import Fleet
from tests.support import count, ledger, wait_for


def events_of(engine: sa.Engine) -> list[tuple[str, str]]:
    return ledger(engine)


def test_a_chain_runs_in_order_across_two_worker_processes(queue, engine):
    first = chain([Step("a"), Step("b"), Step("c")]).catch(Callback("caught")).dispatch()
    # Only the first step is a row: the rest travel in its `chain` column.
    assert count(engine, "SELECT count(*) FROM jobs") == 1
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id AND chain IS NOT NULL",
                 id=first) == 1
    with Fleet(("--sleep", "0.2", "--quiet")) as fleet:
        fleet.start()
        fleet.start()
        assert wait_for(lambda: len(ledger(engine)) == 3, 60)
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 30)
        fleet.stop(engine=engine)
    assert [tag for tag, _ in ledger(engine)] == ["a", "b", "c"]
    assert all(event == "run batch=None chain=True" for _, event in ledger(engine))
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0  # the catch never ran


def test_a_failed_step_stops_the_chain_and_its_catch_runs_once_with_the_failure(queue, engine):
    chain([Step("a"), Step("b", fails=True), Step("c")]).on_queue("chains") \
        .catch(Callback("caught")).dispatch()
    with Fleet(("--queue", "chains", "--sleep", "0.2", "--quiet")) as fleet:
        fleet.start()
        fleet.start()
        assert wait_for(lambda: any(tag == "caught" for tag, _ in ledger(engine)), 60)
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 30)
        fleet.stop(engine=engine)
    with engine.connect() as conn:
        failed_id, chain_id = conn.execute(sa.text(
            "SELECT id, chain ->> 'id' FROM failed_jobs")).one()
    events = ledger(engine)
    assert [tag for tag, _ in events] == ["a", "b", "caught"]  # c never ran
    assert events[-1][1] == (f"batch=None chain={chain_id} failed_job={failed_id} "
                             "error=Abort: step b gave up")


def test_bad_chains_write_nothing(queue, engine):
    with pytest.raises(ValueError, match="at least one job"):
        chain([])
    with pytest.raises(TypeError, match="catch\\(\\) takes a Job instance, not function"):
        chain([Step("a")]).catch(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="chain\\(\\) takes a Job instance, not str"):
        chain([Step("a"), "b"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="cannot be imported by a worker"):
        chain([Step("a"), Local("b")]).dispatch()
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_a_chain_needs_the_database_queue(queue, monkeypatch):
    from dataclasses import replace

    from app.queue import context

    ctx = context.current()
    context.use(replace(ctx, settings=replace(ctx.settings, connection="sync")))
    with pytest.raises(QueueError, match="QUEUE_CONNECTION=database"):
        chain([Step("a")]).dispatch()


def make_local() -> type:
    class Local(Step):
        pass
    return Local


Local = make_local()
