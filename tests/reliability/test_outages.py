"""Database outages mid-run: connections cut again and again (pg_terminate_backend), and a real
stop and start of PostgreSQL. Workers wait and reconnect, lose no job, run none twice at once,
and carry on with jobs dispatched afterwards.

The jobs keep their ledger in files, so they go on finishing while the database is away and
the workers themselves must hold on to the outcomes. The real restart uses a private embedded
server in a temp dir, as the test database's server is shared with other test sessions. It runs
by default (about 20 s); RELIABILITY_RESTART_SERVER=0 skips it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.bootstrap import queue_settings
from app.queue import context, dispatch_many
from app.queue.context import QueueContext
from tests.jobs.reliability import LEDGER_DIR, Steady
from tests.reliability.support import (
    Fleet,
    PrivateServer,
    cut_connections,
    file_ledger_runs,
    overlaps,
    wait_for,
)
from tests.support import artisan, count

# Longer than the outages: a worker cut off for less than this is not presumed dead.
RETRY_AFTER = "10"
WORKER_ARGS = ("--concurrency", "4", "--sleep", "1", "--quiet")
JOBS, AFTER = 1200, 100
JOB_SECONDS = 0.05
RETRIED = 10
"""Every RETRIED-th job fails its first attempt: outcomes to hold through the outage are
retries as well as deletes."""


def backlog() -> list[Steady]:
    return [Steady(n, JOB_SECONDS, fail_first=n % RETRIED == 0) for n in range(JOBS)]


def side_engine(url: str) -> sa.Engine:
    """The test's own connections, under a name no outage targets."""
    return sa.create_engine(url, pool_pre_ping=True, connect_args={
        "application_name": "skiplock-test", "connect_timeout": 5})


def ends(ledger: Path) -> int:
    return sum(path.read_text().count("\tend\t") for path in ledger.glob("*.log"))


def start_fleet(fleet: Fleet) -> tuple[list[str], list[int]]:
    labels = [fleet.start(), fleet.start()]
    return labels, fleet.pids()


def drain_and_dispatch_more(engine: sa.Engine) -> float:
    """After the outage the backlog drains, and new jobs are picked up at once (NOTIFY works
    again). Returns seconds from that dispatch until the queue is empty again."""
    def empty() -> bool:
        return count(engine, "SELECT count(*) FROM jobs") == 0

    assert wait_for(empty, 90), f"{count(engine, 'SELECT count(*) FROM jobs')} jobs left"
    sent = time.monotonic()
    dispatch_many(Steady(JOBS + i, JOB_SECONDS) for i in range(AFTER))
    assert wait_for(empty, 30)
    return time.monotonic() - sent


def check_the_fleet_came_through(engine: sa.Engine, ledger: Path, fleet: Fleet,
                                 labels: list[str], pids: list[int]) -> tuple[int, int]:
    """Every job ran to its end, none twice at once, the same processes did it all (no
    crash, no restart under a new identity), and none printed a traceback.
    Returns (runs of planned retries, most log lines of one worker)."""
    assert [fleet.procs[label].pid for label in labels] == pids
    runs = file_ledger_runs(ledger)
    assert len(runs) == JOBS + AFTER, f"{JOBS + AFTER - len(runs)} jobs never ran"
    reruns = 0
    for tag, job_runs in runs.items():
        assert all(run.end is not None for run in job_runs), f"job {tag}: {job_runs}"
        assert not overlaps(job_runs, {}), f"job {tag} ran twice at once: {job_runs}"
        planned = 2 if int(tag) < JOBS and int(tag) % RETRIED == 0 else 1
        assert len(job_runs) == planned, f"job {tag} ran {len(job_runs)} times: {job_runs}"
        reruns += len(job_runs) - 1
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0
    assert count(engine, "SELECT count(*) FROM workers") == len(labels)
    log_lines = 0
    for label in labels:
        code, err = fleet.output[label]
        assert code == 0 and "Traceback" not in err, (label, err)
        log_lines = max(log_lines, len(err.strip().splitlines()))
    return reruns, log_lines


def test_workers_ride_out_connections_cut_again_and_again(queue, engine, database_url,
                                                          tmp_path):
    side = side_engine(database_url)
    killer = side.execution_options(isolation_level="AUTOCOMMIT")
    dispatch_many(backlog())
    env = {"QUEUE_RETRY_AFTER": RETRY_AFTER, LEDGER_DIR: str(tmp_path)}
    try:
        with Fleet(WORKER_ARGS, env=env) as fleet:
            labels, pids = start_fleet(fleet)
            assert wait_for(lambda: ends(tmp_path) >= JOBS * 0.05, 60)
            rounds = cut = 0
            started = time.monotonic()
            while time.monotonic() - started < 5.0:
                cut += cut_connections(killer, pids)
                rounds += 1
                time.sleep(0.2)
            storm = time.monotonic() - started
            done_in_storm = ends(tmp_path)
            engine.dispose()  # on a Unix socket the test's own pooled connections went too
            assert fleet.alive() == labels, fleet.stop()
            resumed = drain_and_dispatch_more(side)
            fleet.stop()
        reruns, log_lines = check_the_fleet_came_through(side, tmp_path, fleet, labels, pids)
    finally:
        side.dispose()
    assert cut > 0 and done_in_storm < JOBS, "the storm must hit a fleet that has work"
    print(f"\ncut connections: {JOBS + AFTER} jobs, 2 workers x 4; {rounds} rounds of "
          f"pg_terminate_backend over {storm:.1f}s cut {cut} connections; {done_in_storm} runs "
          f"had ended by the end of the storm; {reruns} planned retries, no other re-run; "
          f"{AFTER} new jobs done {resumed:.2f}s after dispatch; at most {log_lines} log lines "
          "per worker")


@pytest.fixture
def private_server(database_url: str) -> Iterator[tuple[PrivateServer, sa.Engine]]:
    """A migrated private server, and the test process's queue bound to it."""
    server = PrivateServer()
    engine = None
    try:
        url = server.start()
        migrated = artisan("migrate", env={"DATABASE_URL": url})
        assert migrated.returncode == 0, migrated.stderr
        engine = side_engine(url)
        context.use(QueueContext(settings=queue_settings(), engine_factory=lambda: engine))
        yield server, engine
    finally:
        context.use(None)
        if engine is not None:
            engine.dispose()
        server.remove()


@pytest.mark.skipif(os.environ.get("RELIABILITY_RESTART_SERVER", "1") == "0",
                    reason="RELIABILITY_RESTART_SERVER=0")
def test_workers_ride_out_a_database_restart(private_server, tmp_path):
    server, engine = private_server
    dispatch_many(backlog())
    env = {"QUEUE_RETRY_AFTER": RETRY_AFTER, LEDGER_DIR: str(tmp_path),
           "DATABASE_URL": server.url}
    with Fleet(WORKER_ARGS, env=env) as fleet:
        labels, pids = start_fleet(fleet)
        assert wait_for(lambda: ends(tmp_path) >= JOBS * 0.15, 60)
        before = ends(tmp_path)
        started = time.monotonic()
        server.stop()
        time.sleep(4.0)  # the outage itself
        alive_while_down = fleet.alive()
        while_down = ends(tmp_path) - before  # jobs in hand finish; their outcomes wait
        server.start()
        outage = time.monotonic() - started
        engine.dispose()
        assert alive_while_down == labels and fleet.alive() == labels, fleet.stop()
        resumed = drain_and_dispatch_more(engine)
        fleet.stop()
    reruns, log_lines = check_the_fleet_came_through(engine, tmp_path, fleet, labels, pids)
    for label in labels:
        said = fleet.output[label][1]
        # Told once by whichever connection noticed first, and once when all are back. As the
        # server goes down a write on a connection not yet cut may still succeed, so one more
        # connection can report it again: at most one report per connection (claim, listener,
        # heartbeat), never one per failed retry.
        told = said.count("retrying until it is back")
        assert 1 <= told <= 3, said
        assert said.count("database is back") == told, said
    print(f"\ndatabase restart: {JOBS + AFTER} jobs, 2 workers x 4; PostgreSQL down for "
          f"{outage:.1f}s after {before} jobs had ended ({while_down} more ended while it was "
          f"down); {reruns} planned retries, no other re-run; {AFTER} new jobs done "
          f"{resumed:.2f}s after dispatch; at most {log_lines} log lines per worker; one said:\n"
          f"{fleet.output[labels[0]][1]}")
