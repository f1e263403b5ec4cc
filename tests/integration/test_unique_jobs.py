"""Unique jobs on a real PostgreSQL: the database decides duplicates (a unique index and
ON CONFLICT DO NOTHING), under concurrent dispatch from many processes; the lock is freed by
success, final failure, the start ("processing") and unique_for."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from app.queue import dispatch, dispatch_many
from app.queue.connections.database.store import JobStore
from app.queue.dispatcher import new_row
from app.queue.testing import fake_queue
from app.queue.unique import lock_of
from tests.jobs import unique_and_cancel as jobs
from tests.jobs.sample_jobs import Carry
from tests.jobs.unique_and_cancel import UniqueBriefly, UniqueReport, UniqueUntilProcessing
from tests.support import (
    ROOT,
    count,
    dispatch_connection_busy,
    ledger,
    start_worker,
    wait_for,
    work,
)

RACE = """
import sys, threading, time
import app
from app.queue import dispatch
from tests.jobs.unique_and_cancel import {job}
go = float(sys.argv[1])
ids = []
def one():
    ids.append(dispatch({job}({args})))
threads = [threading.Thread(target=one) for _ in range(50)]
time.sleep(max(go - time.time(), 0))
for t in threads: t.start()
for t in threads: t.join()
print(sum(1 for i in ids if i is not None))
"""


def race(job: str, args: str = "") -> int:
    """8 processes x 50 threads dispatch the job at one moment: how many got an id."""
    go = time.time() + 3.0  # every process imported and waiting by then
    procs = [subprocess.Popen([sys.executable, "-c", RACE.format(job=job, args=args), str(go)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=os.environ.copy()) for _ in range(8)]
    got = 0
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        got += int(out.strip())
    return got


def unique_rows(engine: sa.Engine, key: str) -> int:
    return count(engine, "SELECT count(*) FROM jobs WHERE unique_key = :k", k=key)


def test_concurrent_dispatch_from_8_processes_enqueues_one_job(queue, engine):
    assert race("UniqueReport", "7") == 1
    assert count(engine, "SELECT count(*) FROM jobs") == 1
    assert unique_rows(engine, "tests.jobs.unique_and_cancel.UniqueReport:7") == 1


def test_concurrent_dispatch_on_an_expired_lock_enqueues_one_new_job(queue, engine):
    """Every dispatcher first clears the expired key, then inserts: the one statement must
    still let exactly one through (the others wait on the expired row, then conflict)."""
    first = dispatch(UniqueReport(8))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE jobs SET unique_until = now() - interval '1 s'"))
    assert race("UniqueReport", "8") == 1
    assert count(engine, "SELECT count(*) FROM jobs") == 2
    assert unique_rows(engine, "tests.jobs.unique_and_cancel.UniqueReport:8") == 1
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id AND unique_key IS NULL",
                 id=first) == 1


def test_a_duplicate_enqueues_nothing_and_returns_none(queue, engine):
    assert dispatch(UniqueReport(1)) is not None
    duplicate = UniqueReport(1)
    assert dispatch(duplicate) is None
    assert duplicate.job_id is None
    assert dispatch(UniqueReport(2)) is not None  # another unique_id: not a duplicate
    assert UniqueReport.dispatch(1) is None
    assert count(engine, "SELECT count(*) FROM jobs") == 2


def test_a_duplicate_through_the_pooled_and_unprepared_paths(queue, engine):
    """The same answer from dispatch's pooled connection (another thread holds its own) and
    from the unprepared statement behind PgBouncer (with its SET LOCAL lock timeout)."""
    assert dispatch(UniqueReport(1)) is not None
    with dispatch_connection_busy(queue.store):
        assert dispatch(UniqueReport(1)) is None
        assert dispatch(UniqueReport(2)) is not None
    unprepared = JobStore(engine, prepare=False, lock_timeout=2.0)

    def insert(report_id: int) -> bool:
        job = UniqueReport(report_id)
        return unprepared.insert_job(new_row(job, None, None, queue), 0.0, None,
                                     lock=lock_of(job))

    assert insert(2) is False
    assert insert(3) is True
    with dispatch_connection_busy(unprepared):
        assert insert(3) is False
        assert insert(4) is True
    assert count(engine, "SELECT count(*) FROM jobs") == 4


def test_the_lock_is_freed_when_the_job_succeeds(queue, engine):
    assert dispatch(UniqueReport(1)) is not None
    assert work("--max-jobs", "1").returncode == 0
    assert ledger(engine, "1") == [("1", "ran")]
    assert dispatch(UniqueReport(1)) is not None


def test_the_lock_is_freed_when_the_job_fails_for_good(queue, engine):
    assert dispatch(UniqueReport(1, should_fail=True)) is not None
    assert work().returncode == 0
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1
    assert dispatch(UniqueReport(1)) is not None


def test_until_processing_frees_the_lock_when_the_job_starts(queue, engine):
    assert dispatch(UniqueUntilProcessing("a", seconds=30)) is not None
    assert dispatch(UniqueUntilProcessing("b")) is None  # pending: the lock is held
    worker = start_worker("--sleep", "0.2")
    try:
        assert wait_for(lambda: ledger(engine, "a") == [("a", "start")])
        assert dispatch(UniqueUntilProcessing("c")) is not None  # running: freed
        assert count(engine, "SELECT count(*) FROM jobs") == 2
    finally:
        worker.kill()
        worker.wait()


def test_the_lock_ends_after_unique_for(queue, engine):
    first = dispatch(UniqueBriefly())
    assert first is not None
    assert dispatch(UniqueBriefly()) is None
    assert wait_for(lambda: dispatch(UniqueBriefly()) is not None, timeout=10)
    assert count(engine, "SELECT count(*) FROM jobs") == 2  # the first is still queued


def test_dispatch_many_with_duplicates_inside_and_across_calls(queue, engine):
    first = dispatch_many([UniqueReport(1), UniqueReport(2), UniqueReport(1), Carry(1)])
    assert first[0] is not None and first[1] is not None and first[3] is not None
    assert first[2] is None
    second = dispatch_many([UniqueReport(2), UniqueReport(3), Carry(2)])
    assert second[0] is None and second[1] is not None and second[2] is not None
    with engine.connect() as conn:
        stored = {row.id for row in conn.execute(sa.text("SELECT id FROM jobs"))}
    assert stored == {i for i in first + second if i is not None}


def test_unique_dispatch_in_the_callers_transaction(queue, engine):
    with engine.connect() as conn, conn.begin() as tx:
        assert dispatch(UniqueReport(1), connection=conn) is not None
        assert dispatch(UniqueReport(1), connection=conn) is None
        assert dispatch_many([UniqueReport(1), UniqueReport(2)], connection=conn)[0] is None
        tx.rollback()
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert dispatch(UniqueReport(1)) is not None


@pytest.mark.parametrize(("job", "error", "words"), [
    (jobs.UniqueIdNotAString(1), TypeError, "unique_id() must return a str, not int"),
    (jobs.UniqueForZero(1), ValueError, "finite number of seconds above 0, not 0"),
    (jobs.UniqueForever(1), ValueError, "not inf"),
    (jobs.UniqueForText(1), TypeError, "unique_for must be a number of seconds, not str"),
    (jobs.UniqueUntilUnknown(1), ValueError, "must be \"processing\" or None"),
    (jobs.UniqueUntilWithoutFor(1), ValueError, "sets unique_until but not unique_for"),
])
def test_bad_unique_settings_are_one_clear_error_and_write_nothing(queue, engine, job, error,
                                                                   words):
    with pytest.raises(error) as raised:
        dispatch(job)
    assert words in str(raised.value)
    with pytest.raises(error):
        dispatch_many([UniqueReport(1), job])
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_the_fake_queue_keeps_one_of_duplicates(queue):
    with fake_queue() as fake:
        assert dispatch(UniqueReport(1)) is not None
        assert dispatch(UniqueReport(1)) is None
        assert dispatch_many([UniqueReport(2), UniqueReport(2)])[1] is None
    fake.assert_pushed(UniqueReport, times=2)


# ------------------------------------------------ a retried unique job (issue 26, item 4)

def failed_unique_report(engine, report_id: int) -> str:
    job_id = dispatch(UniqueReport(report_id, should_fail=True))
    assert job_id is not None and work().returncode == 0
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id = :id", id=job_id) == 1
    return job_id


def test_a_retried_unique_job_takes_its_lock_again(queue, engine):
    from tests.support import artisan

    job_id = failed_unique_report(engine, 5)
    result = artisan("queue:retry", job_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id AND unique_key IS NOT NULL "
                 "AND unique_until > now() + interval '50 seconds'", id=job_id) == 1
    assert dispatch(UniqueReport(5)) is None  # the retried copy holds the lock
    assert count(engine, "SELECT count(*) FROM jobs") == 1


def test_a_failed_unique_job_whose_lock_is_held_again_is_left_in_failed_jobs(queue, engine):
    from app.queue.admin import QueueAdmin as Admin
    from tests.dashboard.conftest import BEARER, make_client

    first = failed_unique_report(engine, 6)
    second = dispatch(UniqueReport(6))  # the lock was free once the first failed
    assert second is not None
    with make_client(engine) as client:
        answer = client.post(f"/api/jobs/{first}/retry", headers=BEARER)
    assert answer.status_code == 409 and "holds its lock" in answer.json()["error"]
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id = :id", id=first) == 1
    # Two failed copies of one unique job: the older goes back, the other stays.
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM jobs"))
    other = failed_unique_report(engine, 6)
    result = Admin(engine).retry([first, other])
    assert (result.retried, result.held) == ((first,), (other,))
    assert count(engine, "SELECT count(*) FROM jobs WHERE unique_key IS NOT NULL") == 1


def test_an_expired_lock_does_not_keep_a_retry_back(queue, engine):
    from app.queue.admin import QueueAdmin as Admin

    job_id = failed_unique_report(engine, 7)
    holder = dispatch(UniqueReport(7))
    with engine.begin() as conn:  # its unique_for is over
        conn.execute(sa.text("UPDATE jobs SET unique_until = now() - interval '1 second' "
                             "WHERE id = :id"), {"id": holder})
    assert Admin(engine).retry([job_id]).retried == (job_id,)
    assert count(engine, "SELECT count(*) FROM jobs WHERE unique_key IS NOT NULL") == 1
