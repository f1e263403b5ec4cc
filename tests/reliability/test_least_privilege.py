"""Roles that may only touch the queue tables (issue 13): the grants the README lists for a
dispatcher and for a worker are enough for dispatch, dispatch_many, transactional dispatch,
and a worker that drains, retries and fails jobs; and a dispatcher can do nothing else."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.queue import batch, context, dispatch, dispatch_many
from app.queue.context import QueueContext
from tests.jobs.basic import AlwaysFails, FailTimes, Record
from tests.support import ROOT, artisan, count, ledger, wait_for

# The guide's grants, word for word (docs/operations.md, section "A role of its own").
DISPATCHER_GRANTS = ("GRANT INSERT, SELECT (queue) ON jobs TO {role}",
                     "GRANT SELECT, INSERT, UPDATE ON job_batches TO {role}")
WORKER_GRANTS = (
    "GRANT SELECT, INSERT, UPDATE, DELETE ON jobs, failed_jobs, workers TO {role}",
    "GRANT SELECT, UPDATE ON job_batches TO {role}",
    "GRANT SELECT ON paused_queues, queue_signals, alembic_version TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON queue_metrics TO {role}",
)
OPERATOR_GRANTS = (*WORKER_GRANTS,
                   "GRANT INSERT, UPDATE, DELETE ON paused_queues, queue_signals TO {role}",
                   "GRANT DELETE ON job_batches TO {role}",
                   "GRANT SELECT, UPDATE ON supervisors TO {role}")
# supervise: its children are workers; it checks long waits too.
SUPERVISOR_GRANTS = (
    *WORKER_GRANTS,
    "GRANT SELECT, INSERT, UPDATE, DELETE ON supervisors, supervisor_processes TO {role}",
    "GRANT SELECT, INSERT, UPDATE ON queue_notifications TO {role}",
)
# The test jobs write to the suite's own ledger table: not a queue table.
LEDGER_GRANTS = ("GRANT INSERT ON ledger TO {role}",
                 "GRANT USAGE ON SEQUENCE ledger_id_seq TO {role}")


def create_role(engine: sa.Engine, role: str, password: str, grants: tuple[str, ...]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        conn.execute(sa.text(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'"))
        for grant in grants:
            conn.execute(sa.text(grant.format(role=f'"{role}"')))


def drop_role(engine: sa.Engine, role: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE usename = :role"), {"role": role})
        conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
        conn.execute(sa.text(f'DROP ROLE "{role}"'))


@pytest.fixture
def roles(queue, engine, database_url) -> Iterator[dict[str, str]]:
    """role kind -> URL to connect as it; both roles dropped afterwards."""
    database = sa.make_url(database_url).database
    password = secrets.token_hex(8)
    made = {"dispatcher": (f"{database}_dispatcher", DISPATCHER_GRANTS),
            "worker": (f"{database}_worker", WORKER_GRANTS + LEDGER_GRANTS),
            "operator": (f"{database}_operator", OPERATOR_GRANTS),
            "supervisor": (f"{database}_supervisor", SUPERVISOR_GRANTS + LEDGER_GRANTS)}
    try:
        for role, grants in made.values():
            create_role(engine, role, password, grants)
        yield {kind: sa.make_url(database_url).set(username=role, password=password)
               .render_as_string(hide_password=False) for kind, (role, _) in made.items()}
    finally:
        context.use(None)
        for role, _ in made.values():
            drop_role(engine, role)


def test_the_documented_grants_are_enough_for_a_dispatcher_and_a_worker(queue, engine, roles):
    as_dispatcher = sa.create_engine(roles["dispatcher"])
    context.use(QueueContext(settings=queue.settings, engine_factory=lambda: as_dispatcher))
    try:
        dispatch(Record("single"))
        dispatch_many([Record(f"bulk-{i}") for i in range(3)])
        with as_dispatcher.begin() as conn:
            dispatch(FailTimes("retried", failures=1), connection=conn)
            dispatch(AlwaysFails("failed"), connection=conn)
        # A batch with a chain in it and a failure: the worker's grants carry the chain on
        # and count in the batch.
        batched = batch([[Record("step-1"), Record("step-2")], AlwaysFails("batched")]) \
            .allow_failures().then(Record("then")).finally_(Record("finally")).dispatch()
        assert batched.add([Record("added")]).total_jobs == 3
        with as_dispatcher.connect() as conn, pytest.raises(sa.exc.ProgrammingError,
                                                            match="permission denied"):
            conn.execute(sa.text("SELECT payload FROM jobs"))
    finally:
        context.current().store.dispatcher.close()
        as_dispatcher.dispose()
    assert count(engine, "SELECT count(*) FROM jobs") == 9

    worker = artisan("queue:work", "--stop-when-empty", "--sleep", "0.2", "--max-time", "60",
                     env={"DATABASE_URL": roles["worker"]}, timeout=90)
    assert worker.returncode == 0, worker.stderr
    assert "Traceback" not in worker.stderr
    # Its per-minute metrics too: the worker's grants name queue_metrics.
    assert "permission denied" not in worker.stderr, worker.stderr
    assert count(engine, "SELECT count(*) FROM queue_metrics") > 0
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert [event for _, event in ledger(engine, "retried")] == ["attempt 1", "attempt 2"]
    assert ledger(engine, "failed")[-1] == ("failed", "failed: RuntimeError")
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 2
    assert all(ledger(engine, tag) for tag in ("single", "bulk-0", "bulk-1", "bulk-2",
                                               "step-1", "step-2", "added", "finally"))
    assert not ledger(engine, "then")
    status = artisan("queue:failed", "--json", env={"DATABASE_URL": roles["worker"]})
    assert status.returncode == 0, status.stderr
    assert [job["job_class"] for job in json.loads(status.stdout)["failed_jobs"]] == \
        ["tests.jobs.basic.AlwaysFails"] * 2


def test_the_console_needs_only_the_operator_grants(queue, engine, roles):
    as_operator = {"DATABASE_URL": roles["operator"]}
    for command in (("queue:pause", "mail"), ("queue:resume", "mail"), ("queue:restart",),
                    ("queue:status", "--json"), ("queue:retry", "all"),
                    ("queue:clear", "--force")):
        result = artisan(*command, env=as_operator)
        assert result.returncode == 0, (command, result.stderr)
    # A worker's role cannot pause a queue. (Said today with SQLAlchemy's traceback: the
    # one-line QueueDatabaseError is the database errors' work, issue 12.)
    refused = artisan("queue:pause", "mail", env={"DATABASE_URL": roles["worker"]})
    assert refused.returncode != 0 and "permission denied" in refused.stderr


def test_supervise_and_its_commands_need_only_the_documented_grants(queue, engine, roles,
                                                                     tmp_path):
    """supervise runs a child, records its processes and sends a long-wait notification as
    the supervisor's role; supervise:status, :pause and :terminate work as the operator's."""
    dispatch(Record("supervised"))
    dispatch(Record("waiting"), queue="lp-waiting")  # no child serves it: it waits
    err = tmp_path / "supervise.err"
    supervisors = {"main": {"balance": "simple", "processes": 1, "sleep": 0.2, "max_time": 120}}
    proc = subprocess.Popen(
        [sys.executable, "artisan.py", "supervise"], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=err.open("w"),
        env={**os.environ, "DATABASE_URL": roles["supervisor"],
             "QUEUE_SUPERVISORS": json.dumps(supervisors),
             "QUEUE_WAIT_THRESHOLDS": json.dumps({"lp-waiting": 0.01})})
    as_operator = {"DATABASE_URL": roles["operator"]}
    try:
        assert wait_for(lambda: ledger(engine, "supervised"), timeout=60), err.read_text()
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM queue_notifications") == 1,
                        timeout=30), err.read_text()
        status = artisan("supervise:status", "--json", env=as_operator)
        assert status.returncode == 0, status.stderr
        assert [s["state"] for s in json.loads(status.stdout)["supervisors"]] == ["running"]
        for command in ("supervise:pause", "supervise:terminate"):
            result = artisan(command, env=as_operator)
            assert result.returncode == 0, (command, result.stderr)
        assert proc.wait(60) == 0, err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "permission denied" not in err.read_text(), err.read_text()
    assert count(engine, "SELECT count(*) FROM supervisor_processes") > 0
