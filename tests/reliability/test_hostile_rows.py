"""Stored rows the worker's decision code cannot take as it is used to: a wrongly typed `tries`
or `backoff`, error text PostgreSQL cannot store, a limit holding a job back for NaN seconds.
Each such job fails (or is put back) with a clear error, the jobs after it run, and the worker
still stops on SIGTERM. Every wait is bounded: a worker that hangs fails the test in seconds."""

from __future__ import annotations

import json
import signal
import subprocess
from typing import Any

import pytest
import sqlalchemy as sa

from app.queue import dispatch
from tests.jobs.basic import Record
from tests.support import count, ledger, start_worker, wait_for

JOBS = "tests.jobs.bad_rows"


def insert_row(engine: sa.Engine, job_id: str, job: str, data: dict[str, Any]) -> None:
    """A row as dispatch would have stored it before it checked option types (or by hand)."""
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO jobs (id, queue, payload) "
                             "VALUES (:id, 'default', CAST(:payload AS jsonb))"),
                     {"id": job_id, "payload": json.dumps({"job": f"{JOBS}.{job}",
                                                           "data": data})})


def failures(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT id, exception FROM failed_jobs")).all())


def stop(proc: subprocess.Popen[str], timeout: float = 10) -> tuple[int, str]:
    """SIGTERM; the exit code and stderr. SIGKILL (and fail) if it does not exit in time."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the worker did not exit within {timeout:g}s of SIGTERM")
    return proc.returncode, proc.stderr.read() if proc.stderr else ""


def serve_until(engine: sa.Engine, done: Any, *args: str) -> tuple[bool, int, str]:
    """A real worker until `done()` (or 15 s); whether it got there, its exit code on SIGTERM
    and its stderr."""
    proc = start_worker("--sleep", "0.2", "--max-time", "60", *args)
    try:
        reached = wait_for(done, 15)
        alive = proc.poll() is None
    finally:
        code, err = stop(proc)
    assert alive, err
    return reached, code, err


def fail_one_row_then_serve_on(engine: sa.Engine, job: str, data: dict[str, Any]) -> str:
    """Row `bad` (of `job`, with `data`), then a good job after it: a real worker fails the
    first, runs the second, and stops on SIGTERM; the failed row's stored exception."""
    insert_row(engine, "bad", job, data)
    dispatch(Record("after"))
    reached, code, err = serve_until(
        engine, lambda: ("after", "end") in ledger(engine) and "bad" in failures(engine))
    assert reached, err
    assert code == 0, err
    assert "Traceback" not in err
    return failures(engine)["bad"]


BAD_OPTIONS = {
    "tries-text-on-row": ("Raises", {"tag": "t", "tries": "3"}, "tries"),
    "tries-text-on-class": ("TriesAsText", {"tag": "t"}, "tries"),
    "tries-on-async-row": ("AsyncRaises", {"tag": "t", "tries": "3"}, "tries"),
    "backoff-word-on-row": ("Raises", {"tag": "t", "backoff": "abc"}, "backoff"),
    "backoff-word-on-class": ("BackoffAsWord", {"tag": "t"}, "backoff"),
    "backoff-list-with-null": ("Raises", {"tag": "t", "backoff": [10, None]}, "backoff"),
    "backoff-object": ("Raises", {"tag": "t", "backoff": {"a": 1}}, "backoff"),
    "backoff-on-async-row": ("AsyncRaises", {"tag": "t", "backoff": "abc"}, "backoff"),
}


@pytest.mark.parametrize("case", BAD_OPTIONS)
def test_a_row_with_a_wrongly_typed_option_fails_clearly_and_the_worker_goes_on(
        queue, engine, case):
    job, data, option = BAD_OPTIONS[case]
    exception = fail_one_row_then_serve_on(engine, job, data)
    assert f"InvalidJobOption: {job}.{option} must be" in exception


@pytest.mark.parametrize("job", ["RaisesALoneSurrogate", "RaisesANul", "FailsWithANul"])
def test_error_text_postgresql_cannot_store_is_made_storable(queue, engine, job):
    exception = fail_one_row_then_serve_on(engine, job, {"tag": "t", "tries": 1})
    assert "\\x00" in exception or "\\udcff" in exception
    assert [tag for tag, event in ledger(engine) if event == "start"] == ["t", "after"]


def test_a_nul_in_a_retried_jobs_error_is_stored_escaped(queue, engine):
    insert_row(engine, "bad", "RaisesANul", {"tag": "t", "tries": 2, "backoff": 60})
    reached, code, err = serve_until(engine, lambda: count(
        engine, "SELECT count(*) FROM jobs WHERE reserved_at IS NULL AND attempts = 1") == 1)
    assert reached, err
    assert code == 0, err
    with engine.connect() as conn:
        last_error = conn.execute(sa.text("SELECT last_error FROM jobs")).scalar_one()
    assert "read a\\x00b" in last_error


def test_hold_back_for_nan_seconds_is_refused_as_release_refuses(queue, engine):
    exception = fail_one_row_then_serve_on(engine, "HeldBackForNaN", {"tag": "t"})
    assert "ValueError: hold_back delay must be a finite number of seconds" in exception
    assert ("t", "start") not in ledger(engine)  # held back, never run
