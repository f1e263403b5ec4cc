"""Crashes and outages: several worker processes, SIGKILL, lost connections; checked against
a ledger the jobs write themselves."""

from __future__ import annotations

import signal
import time
from collections import defaultdict

import sqlalchemy as sa

from app.queue import dispatch, dispatch_many
from tests.jobs.basic import Ledgered
from tests.support import count, start_worker, wait_for

ENV = {"QUEUE_RETRY_AFTER": "2"}






def test_worker_survives_lost_connections(queue, engine, database_url):
    proc = start_worker("--concurrency", "2", "--sleep", "0.2", env=ENV)
    killer = sa.create_engine(database_url, isolation_level="AUTOCOMMIT",
                              connect_args={"application_name": "skiplock-test-killer"})
    try:
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM workers") == 1, 20)
        total = 0
        for _ in range(3):
            dispatch_many(Ledgered(total + i, 0.01) for i in range(100))
            total += 100
            time.sleep(0.3)
            with killer.connect() as conn:
                conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND application_name IN ('skiplock', 'skiplock-listener')"))
            engine.dispose()  # our own pooled connections were cut too
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 60)
        assert proc.poll() is None, "the worker is still running"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        killer.dispose()
    runs = runs_by_job(engine)
    assert len(runs) == total
    assert all(("end" in [e for e, _ in events]) for events in runs.values())
    # Which of the worker's connections notices a cut first is a race; whichever it is, the
    # worker says so once per cut and once when it has them all back.
    assert "retrying until it is back" in err and "database is back" in err, err
    assert err.count("retrying until it is back") <= 3, err
    assert "Traceback" not in err, err
    print(f"\noutage test: {total} jobs, 3 rounds of cut connections; worker said:\n{err}")


def test_jobs_of_a_claim_whose_answer_was_lost_are_given_back(queue, engine, database_url):
    """A claim can commit and then lose its answer with the connection. Its jobs are reserved
    by a live worker that never saw them, which the heartbeat rule never gives back (the
    worker beats on): the worker itself must, when it reconnects."""
    proc = start_worker("--sleep", "0.2", env={"QUEUE_RETRY_AFTER": "600"})
    killer = sa.create_engine(database_url, isolation_level="AUTOCOMMIT",
                              connect_args={"application_name": "skiplock-test-killer"})
    try:
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM workers") == 1, 20)
        job_id = dispatch(Ledgered(1, 0), delay=3600)
        with killer.connect() as conn:
            # What the lost claim did: reserved the job for this worker and counted an attempt.
            conn.execute(sa.text(
                "UPDATE jobs SET reserved_at = now(), available_at = now(), attempts = 1, "
                "reserved_by = (SELECT id FROM workers) WHERE id = :id"), {"id": job_id})
            # ... then the answer is lost with the connection.
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = 'skiplock'"))
        engine.dispose()
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 30)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        killer.dispose()
    assert proc.returncode == 0, err
    assert [event for event, _ in runs_by_job(engine)["1"]] == ["start", "end"]
    assert "gave back 1 job(s) reserved by a claim whose answer was lost" in err, err


def runs_by_job(engine: sa.Engine) -> dict[str, list[tuple[str, int]]]:
    """job tag -> [(event, pid)] in ledger order."""
    runs: dict[str, list[tuple[str, int]]] = defaultdict(list)
    with engine.connect() as conn:
        for tag, event, pid in conn.execute(sa.text(
                "SELECT tag, event, pid FROM ledger ORDER BY id")):
            runs[tag].append((event, pid))
    return runs
