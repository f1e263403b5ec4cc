"""Batches across real worker processes, one of them killed: every callback exactly once,
the counters exact."""

from __future__ import annotations

import sqlalchemy as sa

from app.queue import batch
from tests.jobs.compose import Callback, Step
from tests.reliability.support import Fleet, wait_for
from tests.support import count, ledger

ENV = {"QUEUE_RETRY_AFTER": "2"}
ITEMS = 1000


def counters(engine: sa.Engine, batch_id: str) -> tuple[int, int, int, bool, bool]:
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT total_jobs, pending_jobs, failed_jobs, finished_at IS NOT NULL, "
            "cancelled_at IS NOT NULL FROM job_batches WHERE id = :id"), {"id": batch_id}).one()
    return tuple(row)  # type: ignore[return-value]


def test_a_batch_across_three_workers_one_killed_calls_back_exactly_once(queue, engine):
    b = batch([Step(str(n), seconds=0.005) for n in range(ITEMS)]).name("import") \
        .then(Callback("then")).catch(Callback("catch")).finally_(Callback("finally")) \
        .on_queue("imports").dispatch()
    with Fleet(("--queue", "imports", "--concurrency", "4", "--sleep", "0.2", "--quiet"),
               env=ENV) as fleet:
        labels = [fleet.start() for _ in range(3)]
        assert wait_for(lambda: len(ledger(engine)) >= ITEMS // 3, 60)
        fleet.kill(labels[0])  # its reserved jobs and its acks not yet sent die with it
        assert count(engine, "SELECT pending_jobs FROM job_batches") > 0, "killed too late"
        assert wait_for(lambda: {"then", "finally"} <= {tag for tag, _ in ledger(engine)}, 90)
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 30)
        fleet.stop(engine=engine)
    tags = [tag for tag, _ in ledger(engine)]
    assert {str(n) for n in range(ITEMS)} <= set(tags)  # every item done, once or more
    assert tags.count("then") == 1
    assert tags.count("finally") == 1
    assert "catch" not in tags
    assert counters(engine, b.id) == (ITEMS, 0, 0, True, False)
    then_event = ledger(engine, "then")[0][1]
    assert then_event.startswith(f"batch={b.id} ")


def test_concurrent_failures_call_catch_and_finally_exactly_once(queue, engine):
    """A third of 300 jobs fail, on 3 workers at once: the batch counts every failure, its
    catch runs once (at the first), finally once (at the last job), then never."""
    items = [Step(str(n), fails=n % 3 == 0, seconds=0.002) for n in range(300)]
    b = batch(items).then(Callback("then")).catch(Callback("catch")) \
        .finally_(Callback("finally")).allow_failures().dispatch()
    with Fleet(("--concurrency", "4", "--sleep", "0.2", "--quiet")) as fleet:
        for _ in range(3):
            fleet.start()
        assert wait_for(lambda: "finally" in {tag for tag, _ in ledger(engine)}, 60)
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 30)
        fleet.stop(engine=engine)
    tags = [tag for tag, _ in ledger(engine)]
    assert (tags.count("catch"), tags.count("finally"), tags.count("then")) == (1, 1, 0)
    assert counters(engine, b.id) == (300, 100, 100, True, False)
    assert count(engine, "SELECT cardinality(failed_job_ids) FROM job_batches") == 100
