"""cancel(id) and queue:cancel on a real PostgreSQL with real worker processes: a waiting job
moves to failed_jobs; a running one (plain or async) is stopped by its worker, its failed()
hook runs, and it is never retried, even when its worker is killed before it could stop it."""

from __future__ import annotations

import os
import signal

import sqlalchemy as sa

from app.queue import batch, cancel, chain, dispatch
from tests.jobs.compose import Callback, Step
from tests.jobs.sample_jobs import Carry
from tests.jobs.unique_and_cancel import AsyncSleeps, CancelsItself, SleepsInSteps, UniqueReport
from tests.support import artisan, count, ledger, start_worker, wait_for, work


def failed_exception(engine: sa.Engine, job_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT exception FROM failed_jobs WHERE id = :id"),
                            {"id": job_id}).scalar()


def test_a_pending_job_moves_to_failed_jobs(queue, engine):
    job_id = dispatch(SleepsInSteps("p", 0))
    assert cancel(job_id) is True
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert failed_exception(engine, job_id) == "JobCancelled: cancelled while waiting"
    assert work().returncode == 0
    assert ledger(engine) == []  # never ran


def test_a_delayed_job_moves_to_failed_jobs_with_its_columns(queue, engine):
    job_id = dispatch(SleepsInSteps("d", 0), delay=3600, priority=7, queue="later")
    assert cancel(job_id) is True
    with engine.connect() as conn:
        moved = conn.execute(sa.text("SELECT queue, priority, attempts, payload->>'job' AS job "
                                     "FROM failed_jobs WHERE id = :id"), {"id": job_id}).one()
    assert tuple(moved) == ("later", 7, 0, "tests.jobs.unique_and_cancel.SleepsInSteps")


def test_cancelling_a_unique_job_frees_its_lock(queue):
    job_id = dispatch(UniqueReport(5))
    assert dispatch(UniqueReport(5)) is None
    assert cancel(job_id) is True
    assert dispatch(UniqueReport(5)) is not None


def test_a_finished_or_unknown_job_is_not_cancelled(queue, engine):
    done = dispatch(Carry(1))
    assert work().returncode == 0
    assert cancel(done) is False
    failed = dispatch(SleepsInSteps("f", 0))
    assert cancel(failed) is True
    assert cancel(failed) is False  # in failed_jobs already
    assert cancel("01JNOSUCHJOB0000000000000") is False


def run_and_cancel(engine: sa.Engine, job_id: str, tag: str, *worker_args: str,
                   env: dict[str, str] | None = None) -> None:
    """Start a worker, cancel the job once it runs, and check it was stopped at once, failed
    as cancelled with its failed() hook run, and never retried."""
    worker = start_worker("--sleep", "0.2", *worker_args, env=env)
    try:
        assert wait_for(lambda: ledger(engine, tag) == [(tag, "start")])
        assert cancel(job_id) is True
        assert wait_for(lambda: failed_exception(engine, job_id) is not None, timeout=20)
        assert wait_for(lambda: len(ledger(engine, tag)) == 2)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert failed_exception(engine, job_id).startswith("JobCancelled: cancelled while running")
    assert ledger(engine, tag) == [(tag, "start"), (tag, "failed: JobCancelled")]
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert "was cancelled: stopping it" in err


def test_a_running_plain_job_is_stopped_and_not_retried(queue, engine):
    run_and_cancel(engine, dispatch(SleepsInSteps("r", 60)), "r")


def test_a_running_async_job_is_cancelled_and_not_retried(queue, engine):
    run_and_cancel(engine, dispatch(AsyncSleeps("a", 60)), "a")


def test_without_listen_the_heartbeat_tells_the_worker(queue, engine):
    run_and_cancel(engine, dispatch(SleepsInSteps("h", 60)), "h",
                   env={"QUEUE_LISTEN": "false", "QUEUE_RETRY_AFTER": "4"})


def test_a_cancel_its_killed_worker_missed_is_never_run_again(queue, engine):
    """kill -9 of the worker, then the cancel: the row is marked, the job given back when the
    worker is found dead, and the next claim fails it as cancelled instead of running it."""
    job_id = dispatch(SleepsInSteps("k", 60))
    env = {"QUEUE_RETRY_AFTER": "2"}
    first = start_worker("--sleep", "0.2", env=env)
    assert wait_for(lambda: ledger(engine, "k") == [("k", "start")])
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=30)
    assert cancel(job_id) is True  # still reserved by the dead worker: marked
    second = start_worker("--sleep", "0.2", env=env)
    try:
        assert wait_for(lambda: failed_exception(engine, job_id) is not None, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)
    assert failed_exception(engine, job_id).startswith("JobCancelled: cancelled before it ran")
    assert wait_for(lambda: len(ledger(engine, "k")) == 2)
    assert ledger(engine, "k") == [("k", "start"), ("k", "failed: JobCancelled")]


def test_a_job_that_ends_as_it_is_cancelled_is_recorded_once(queue, engine):
    """The cancel reaches the worker as the job returns: either it succeeded (no row left) or
    it is failed as cancelled with its hook run once; never both, never run again."""
    ids = [dispatch(CancelsItself(str(n))) for n in range(20)]
    assert work("--concurrency", "4").returncode == 0
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    for n, job_id in enumerate(ids):
        events = [event for _, event in ledger(engine, str(n))]
        failed = failed_exception(engine, job_id)
        if failed is None:
            assert events == ["start"]
        else:
            assert failed.startswith("JobCancelled: cancelled while running")
            assert events == ["start", "failed: JobCancelled"]


def test_queue_cancel_says_what_it_did(queue, engine):
    waiting = dispatch(SleepsInSteps("c", 0))
    removed = artisan("queue:cancel", waiting)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == (f"Cancelled job {waiting}: removed from its queue (in "
                                      "failed_jobs as cancelled).")
    again = artisan("queue:cancel", waiting)
    assert again.returncode == 0
    assert "had already finished (failed): nothing to cancel" in again.stdout
    unknown = artisan("queue:cancel", "nope")
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "no job or batch with id nope is pending, delayed or running" in unknown.stderr


def test_a_batch_id_cancels_the_batch(queue, engine):
    b = batch([Step("a"), Step("b")]).finally_(Callback("finally")).dispatch()
    assert cancel(b.id) is True
    assert cancel(b.id) is False  # cancelled already
    assert work().returncode == 0
    assert [tag for tag, _ in ledger(engine)] == ["finally"]  # its waiting jobs never ran
    assert b.fresh().cancelled and b.fresh().finished


def test_a_cancelled_waiting_member_fails_in_its_batch_and_chain(queue, engine):
    b = batch([Step("a"), Step("b")]).catch(Callback("catch")).finally_(Callback("finally")) \
        .allow_failures().dispatch()
    with engine.connect() as conn:
        member = conn.execute(sa.text("SELECT id FROM jobs WHERE batch_id = :b ORDER BY id "
                                      "LIMIT 1"), {"b": b.id}).scalar_one()
    first = chain([Step("c1"), Step("c2")]).catch(Callback("chain-catch")).dispatch()
    assert cancel(member) is True
    assert cancel(first) is True
    assert work().returncode == 0
    ran = sorted(tag for tag, _ in ledger(engine))
    assert ran == ["a", "catch", "chain-catch", "finally"] or \
        ran == ["b", "catch", "chain-catch", "finally"]
    b = b.fresh()
    assert (b.failed_jobs, b.failed_job_ids, b.finished) == (1, (member,), True)
    assert ledger(engine, "catch")[0][1].endswith(
        f"failed_job={member} error=JobCancelled: cancelled while waiting")


def test_queue_cancel_of_a_batch_says_so(queue, engine):
    b = batch([Step("a")]).dispatch()
    done = artisan("queue:cancel", b.id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Cancelled batch {b.id}: its waiting jobs will not run")
    again = artisan("queue:cancel", b.id)
    assert again.returncode == 0
    assert again.stdout.strip() == f"Batch {b.id} was cancelled already: nothing to do."
