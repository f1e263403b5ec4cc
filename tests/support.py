"""What the tests share: the project root, the queue tables, and how a test runs the console
and real worker processes as a user would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from app.queue.connections.database.store import JobStore
    from app.queue.connections.records import ClaimedJob

ROOT = Path(__file__).resolve().parent.parent
JOB_PACKAGES = "app.jobs,tests.jobs"
TABLES = ("jobs", "failed_jobs", "workers", "paused_queues", "queue_signals", "schedule_runs",
          "queue_metrics", "job_batches", "job_limits", "dashboard_sessions", "supervisors",
          "supervisor_processes", "queue_notifications")


def count(engine: sa.Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar_one())


def ledger(engine: sa.Engine, tag: str | None = None) -> list[tuple[str, str]]:
    sql = "SELECT tag, event FROM ledger" + (" WHERE tag = :tag" if tag else "") + " ORDER BY id"
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql), {"tag": tag})]


def ctrl_c_as_in_a_terminal() -> None:
    """preexec_fn for a child the test will Ctrl-C (SIGINT). A shell starts background jobs
    with SIGINT ignored, and a Python started so never turns SIGINT into KeyboardInterrupt:
    when the suite itself runs in the background (`bash .ci/run &`), its children would ignore
    the test's Ctrl-C. Give them the disposition a terminal's foreground process has."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def artisan(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python artisan.py ARGS` as a user would, in the project root."""
    return subprocess.run(
        [sys.executable, "artisan.py", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})}, input=input,
    )


def work(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`queue:work --stop-when-empty` to the end, as a subprocess."""
    return artisan("queue:work", "--stop-when-empty", "--sleep", "0.2", *args, timeout=timeout)


def start_worker(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "artisan.py", "queue:work", *args], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
    )


def wait_for(predicate, timeout: float = 30, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def claim(store: JobStore, worker_id: str, queues: list[str], limit: int,
          acks: Sequence[str] = ()) -> list[ClaimedJob]:
    """One claim through the Claimer, as a worker claims (production's only claim path)."""
    claimer = store.claimer()
    try:
        return claimer.claim(worker_id, queues, limit, acks)
    finally:
        claimer.close()


@contextlib.contextmanager
def dispatch_connection_busy(store: JobStore) -> Iterator[None]:
    """As while another thread dispatches: this thread's dispatch takes a pooled connection."""
    assert store.dispatcher._lock.acquire(blocking=False)
    try:
        yield
    finally:
        store.dispatcher._lock.release()


def claim_every_run_of_the_last_hours(engine, tasks: list[str], hours: int = 2) -> None:
    """As a running scheduler leaves it: a claimed run at each five minutes, up to now."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO schedule_runs (task, due_at, claimed_by) "
            "SELECT task, due, 'box:1' FROM unnest(CAST(:tasks AS text[])) AS task, "
            "generate_series(date_trunc('hour', now()) - make_interval(hours => :hours), "
            "now(), interval '5 minutes') AS due"), {"tasks": tasks, "hours": hours})
