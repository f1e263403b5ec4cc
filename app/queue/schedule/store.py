"""ScheduleStore: the scheduler's statements (schedule.sql), one method each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.sql import load_queries

QUERIES = load_queries(Path(__file__).with_name("schedule.sql"))


@dataclass(frozen=True, slots=True)
class LastRun:
    task: str
    due_at: dt.datetime
    claimed_by: str
    job_id: str | None
    finished_at: dt.datetime | None
    exit_code: int | None


class ScheduleStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def _run(self, name: str, params: dict[str, Any] | None = None,
             connection: Connection | None = None) -> list[sa.Row[Any]]:
        with translated_errors(self.engine.url):
            if connection is not None:
                result = connection.execute(QUERIES[name], params or {})
                return list(result) if result.returns_rows else []
            with self.autocommit.connect() as conn:
                result = conn.execute(QUERIES[name], params or {})
                return list(result) if result.returns_rows else []

    def now(self) -> dt.datetime:
        return self._run("now")[0].now

    def lock_task(self, conn: Connection, task: str) -> None:
        self._run("lock_task", {"task": task}, conn)

    def claim_run(self, conn: Connection, task: str, due_at: dt.datetime, by: str) -> bool:
        return bool(self._run("claim_run", {"task": task, "due_at": due_at, "claimed_by": by},
                              conn))

    def set_run_job(self, conn: Connection, task: str, due_at: dt.datetime,
                    job_id: str | None) -> None:
        """`job_id` None: the job is unique and a duplicate of it was waiting (none enqueued)."""
        self._run("set_run_job", {"task": task, "due_at": due_at, "job_id": job_id}, conn)

    def finish_run(self, task: str, due_at: dt.datetime, exit_code: int) -> None:
        self._run("finish_run", {"task": task, "due_at": due_at, "exit_code": exit_code})

    def last_run_busy(self, conn: Connection, task: str, expires: float) -> bool:
        return bool(self._run("last_run_busy", {"task": task, "expires": expires},
                              conn)[0].busy)

    def last_runs(self, tasks: Sequence[str]) -> dict[str, LastRun]:
        rows = self._run("last_runs", {"tasks": list(tasks)})
        return {row.task: LastRun(row.task, row.due_at, row.claimed_by, row.job_id,
                                  row.finished_at, row.exit_code) for row in rows}

    def prune_runs(self, now: dt.datetime) -> None:
        """Forget runs a day older than `now` (the tick's clock), but each task's last."""
        self._run("prune_runs", {"now": now})
