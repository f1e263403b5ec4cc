"""queue:work --watch: the worker is restarted when a job's file changes, and runs its new code;
SIGTERM to the watching process stops both."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.queue import dispatch
from tests.support import JOB_PACKAGES, ROOT, count, ledger, wait_for

MODULE = "zz_tmp_watched_job"
TARGET = ROOT / "app" / "jobs" / f"{MODULE}.py"
JOB = '''from app.queue import Job
from tests.jobs.basic import record


class WatchedJob(Job):
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        record(self, "{version}", self.tag)
'''


def write_job(version: str) -> None:
    TARGET.write_text(JOB.replace("{version}", version))
    later = time.time() + 2  # a new mtime even on a filesystem with coarse timestamps
    os.utime(TARGET, (later, later))


@pytest.fixture
def watched_job() -> Iterator[Path]:
    write_job("v1")
    importlib.invalidate_caches()
    yield TARGET
    TARGET.unlink(missing_ok=True)
    sys.modules.pop(f"app.jobs.{MODULE}", None)


def live_workers(engine: sa.Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT id, pid FROM workers WHERE stopped_at IS NULL ORDER BY started_at"))]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_watch_restarts_the_worker_on_a_change_and_sigterm_stops_both(watched_job, queue,
                                                                      engine):
    from app.jobs.zz_tmp_watched_job import WatchedJob

    parent = subprocess.Popen(
        [sys.executable, "artisan.py", "queue:work", "--watch", "--sleep", "0.2"], cwd=ROOT,
        text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "QUEUE_JOB_PACKAGES": JOB_PACKAGES})
    try:
        dispatch(WatchedJob("before"))
        assert wait_for(lambda: ledger(engine, "before") == [("before", "v1")], timeout=60)
        [(first_id, first_pid)] = live_workers(engine)
        assert first_pid != parent.pid  # the worker is the watcher's child

        write_job("v2")
        assert wait_for(lambda: [w for w in live_workers(engine) if w[0] != first_id],
                        timeout=60)
        [(_, second_pid)] = live_workers(engine)  # the first one stopped gracefully
        dispatch(WatchedJob("after"))
        assert wait_for(lambda: ledger(engine, "after") == [("after", "v2")], timeout=60)

        parent.send_signal(signal.SIGTERM)
        _, err = parent.communicate(timeout=60)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.communicate()
    assert parent.returncode == 0, err
    assert not alive(second_pid) and not alive(first_pid)
    assert count(engine, "SELECT count(*) FROM workers WHERE stopped_at IS NULL") == 0
    assert f"app/jobs/{MODULE}.py changed: restarting the worker" in err
    assert "Traceback" not in err
