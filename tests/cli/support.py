"""What the CLI tests share: rows in the states the commands show, and how to check their
output (JSON, and the one-line error)."""

from __future__ import annotations

import json
import subprocess

import sqlalchemy as sa

from app.queue.ids import new_id
from tests.support import artisan

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "app/jobs/mail.py", line 12, in handle\n'
    "    raise RuntimeError('smtp down')\n"
    "RuntimeError: smtp down\n"
)
UNREACHABLE = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}


def insert_failed(engine: sa.Engine, queue: str = "default", hours_ago: float = 0,
                  job_class: str = "tests.jobs.basic.Record", exception: str = TRACEBACK,
                  job_id: str | None = None) -> str:
    job_id = job_id or new_id()
    payload = json.dumps({"job": job_class, "data": {"tag": job_id, "seconds": 0}})
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO failed_jobs (id, queue, payload, attempts, exception, failed_at) "
            "VALUES (:id, :queue, CAST(:payload AS jsonb), 3, :exception, "
            "now() - make_interval(secs => :hours * 3600))"),
            {"id": job_id, "queue": queue, "payload": payload, "exception": exception,
             "hours": hours_ago})
    return job_id


def reserve(engine: sa.Engine, job_id: str, worker: str = "w-1") -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE jobs SET reserved_at = now(), reserved_by = :w, "
                             "attempts = attempts + 1 WHERE id = :id"), {"id": job_id, "w": worker})


def run_json(*args: str) -> object:
    result = artisan(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
