"""Batches on a real PostgreSQL with real workers: failure and cancellation, chains as items,
the Batch API and bad input."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.queue import Job, QueueError, batch, cancel_batch, chain, find_batch
from tests.jobs.compose import Callback, Step, WaitsForCancel
from tests.support import count, ledger, start_worker, wait_for, work

ITEMS = 20


def tags(engine: sa.Engine) -> list[str]:
    return [tag for tag, _ in ledger(engine)]


def test_a_failure_cancels_a_batch_that_does_not_allow_failures(queue, engine):
    b = batch([Step("0", fails=True), *(Step(str(n)) for n in range(1, ITEMS))]) \
        .then(Callback("then")).catch(Callback("catch")).finally_(Callback("finally")) \
        .dispatch()
    assert work("--concurrency", "1").returncode == 0  # one at a time: item 0 runs first
    assert tags(engine) == ["0", "catch", "finally"]  # the waiting items never ran
    b = b.fresh()
    assert (b.total_jobs, b.pending_jobs, b.failed_jobs) == (ITEMS, 1, 1)
    assert b.cancelled and b.finished and b.processed_jobs == ITEMS - 1 and b.progress == 95
    assert b.failed_job_ids == (count_failed_id(engine),)
    catch_event = ledger(engine, "catch")[0][1]
    assert catch_event == (f"batch={b.id} chain=None failed_job={b.failed_job_ids[0]} "
                           "error=Abort: step 0 gave up")


def count_failed_id(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM failed_jobs")).scalar_one()


def test_with_allow_failures_every_item_runs(queue, engine):
    b = batch([Step("0", fails=True), *(Step(str(n)) for n in range(1, ITEMS))]) \
        .then(Callback("then")).catch(Callback("catch")).finally_(Callback("finally")) \
        .allow_failures().dispatch()
    assert work("--concurrency", "1").returncode == 0
    ran = tags(engine)
    assert sorted(ran[:ITEMS], key=int) == [str(n) for n in range(ITEMS)]
    assert ran.count("catch") == 1 and ran.count("finally") == 1
    assert "then" not in ran  # not every job succeeded
    b = b.fresh()
    assert (b.pending_jobs, b.failed_jobs, b.cancelled, b.finished) == (1, 1, False, True)


def test_a_chain_in_a_batch_counts_once_at_its_last_step(queue, engine):
    b = batch([Step("x"), chain([Step("c1"), Step("c2"), Step("c3")]), [Step("l1"),
               Step("l2")]]).then(Callback("then")).dispatch()
    assert b.total_jobs == 3
    assert work().returncode == 0
    ran = tags(engine)
    assert ran.index("c1") < ran.index("c2") < ran.index("c3") < ran.index("then")
    assert ran.index("l1") < ran.index("l2") < ran.index("then")
    assert ran.count("then") == 1
    assert (b.fresh().pending_jobs, b.fresh().finished) == (0, True)


def test_a_running_job_sees_its_batch_cancelled_and_waiting_ones_never_run(queue, engine):
    b = batch([WaitsForCancel("w"), Step("later")]).finally_(Callback("finally")).dispatch()
    worker = start_worker("--concurrency", "1", "--sleep", "0.2", "--quiet",
                          "--stop-when-empty")
    try:
        assert wait_for(lambda: tags(engine) == ["w"], 30)
        assert cancel_batch(b.id) is True
        assert cancel_batch(b.id) is False  # once
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert ledger(engine) == [("w", "started"), ("w", "cancelled=True"),
                              ("finally", f"batch={b.id} chain=None failed_job=None "
                                          "error=None")]
    b = b.fresh()
    assert (b.pending_jobs, b.cancelled, b.finished, b.progress) == (0, True, True, 100)


def test_the_batch_api(queue, engine):
    b = batch([Step("a")]).name("import 42").on_queue("imports").dispatch()
    assert (b.name, b.total_jobs, b.pending_jobs, b.progress, b.finished) == \
        ("import 42", 1, 1, 0, False)
    found = find_batch(b.id)
    assert found is not None and found.id == b.id and found.created_at is not None
    assert find_batch("01NOSUCHBATCH0000000000000") is None
    b = b.add([Step("b"), [Step("c"), Step("d")]])
    assert (b.total_jobs, b.pending_jobs) == (3, 3)
    assert count(engine, "SELECT count(*) FROM jobs WHERE batch_id = :id AND queue = 'imports'",
                 id=b.id) == 3  # add() puts its jobs on the batch's queue (a chain is one row)
    assert b.fresh().total_jobs == 3
    assert work("--queue", "imports").returncode == 0
    assert b.fresh().pending_jobs == 0 and b.fresh().finished


class NotAJob:
    pass


@pytest.mark.parametrize("build, error, message", [
    (lambda: batch([]), ValueError, "batch\\(\\) needs at least one job"),
    (lambda: batch([Step("a")]).then(lambda: None), TypeError,
     "then\\(\\) takes a Job instance, not function"),
    (lambda: batch([Step("a")]).finally_(NotAJob()), TypeError,
     "finally_\\(\\) takes a Job instance, not NotAJob"),
    (lambda: batch([Step("a"), "b"]).dispatch(), TypeError, "a batch item is a Job"),
    (lambda: batch([Step("a"), [Step("b"), Job.__new__(Local)]]).dispatch(), TypeError,
     "cannot be imported by a worker"),
    (lambda: batch([Step("a")]).on_queue("a,b"), ValueError, "contains a comma"),
])
def test_bad_batches_write_nothing(queue, engine, build, error, message):
    with pytest.raises(error, match=message):
        build()
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert count(engine, "SELECT count(*) FROM job_batches") == 0


def test_adding_to_an_unknown_batch_writes_nothing(queue, engine):
    from app.queue.bus.batch import Batch

    ghost = Batch("01NOSUCHBATCH0000000000000", "", 0, 0, 0, (), None, None, None)
    with pytest.raises(QueueError, match="does not exist"):
        ghost.add([Step("a")])
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_adding_to_a_finished_batch_is_refused_and_its_callbacks_run_once(queue, engine):
    b = batch([Step("a")]).then(Callback("then")).finally_(Callback("finally")).dispatch()
    assert work().returncode == 0 and b.fresh().finished
    with pytest.raises(QueueError, match=f"^batch {b.id} has finished \\(its callbacks have "
                                         "run\\): no jobs can be added to it"):
        b.add([Step("late")])
    assert work().returncode == 0
    assert sorted(tags(engine)) == ["a", "finally", "then"]
    assert b.fresh().total_jobs == 1


def test_adding_to_a_cancelled_batch_is_refused_and_nothing_runs(queue, engine):
    b = batch([Step("a")]).dispatch()
    assert cancel_batch(b.id)
    with pytest.raises(QueueError, match=f"^batch {b.id} was cancelled: no jobs can be added"):
        b.add([Step("late"), [Step("chained")]])
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert work().returncode == 0 and tags(engine) == []


def test_jobs_added_to_a_batch_go_to_its_queue_and_it_finishes_there(queue, engine):
    b = batch([Step("a")]).on_queue("reports").then(Callback("done")).dispatch()
    b.add([Step("b")])
    assert count(engine, "SELECT count(*) FROM jobs WHERE queue = 'reports'") == 2
    assert work("--queue", "reports").returncode == 0
    assert b.fresh().finished and sorted(tags(engine)) == ["a", "b", "done"]


def make_local() -> type:
    class Local(Step):
        pass
    return Local


Local = make_local()


@pytest.mark.parametrize("items", [
    [Step("ok"), Step("bad", fails=True)],  # the failure (fail_job) is the batch's last job
    [Step("bad", fails=True), Step("ok")],  # the success (claim_jobs' ack) is
])
def test_the_worker_whose_statement_finishes_a_batch_fires_batch_finished(queue, items):
    from app.queue import events
    from app.queue.worker import Worker, WorkerOptions

    seen: list[events.BatchFinished] = []
    events.listen(events.BatchFinished, seen.append)
    try:
        b = batch(items).name("n").allow_failures().dispatch()
        Worker(queue.store, queue.settings,
               WorkerOptions(stop_when_empty=True, sleep=0.2, concurrency=1)).run()
    finally:
        events.forget_all()
    assert seen == [events.BatchFinished(b.id, "n", 1)]
    assert b.fresh().finished


def test_a_batch_and_a_chain_in_the_callers_transaction_exist_only_if_it_commits(queue,
                                                                                  engine):
    with engine.connect() as conn:
        with conn.begin() as transaction:
            batch([Step("a"), [Step("b"), Step("c")]]).dispatch(connection=conn)
            chain([Step("d"), Step("e")]).dispatch(connection=conn)
            transaction.rollback()
        assert count(engine, "SELECT count(*) FROM jobs") == 0
        assert count(engine, "SELECT count(*) FROM job_batches") == 0
        with conn.begin():
            b = batch([Step("a"), [Step("b"), Step("c")]]).dispatch(connection=conn)
            chain([Step("d"), Step("e")]).dispatch(connection=conn)
    assert count(engine, "SELECT count(*) FROM jobs WHERE batch_id = :id", id=b.id) == 2
    assert count(engine, "SELECT count(*) FROM jobs") == 3
