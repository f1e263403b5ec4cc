"""BenchStore: the bench's own statements (queries.sql beside this file), one method each."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from psycopg.errors import InsufficientPrivilege
from sqlalchemy.engine import Engine

from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.sql import load_queries
from app.queue.errors import QueueDatabaseError

QUERIES = load_queries(Path(__file__).with_name("queries.sql"))


class BenchStore:
    """Counts, backlog and clean-up for one scratch queue; every call autocommits."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def _run(self, name: str, params: dict[str, Any] | None = None) -> list[sa.Row[Any]]:
        with translated_errors(self.engine.url), self.autocommit.connect() as conn:
            result = conn.execute(QUERIES[name], params or {})
            return list(result) if result.returns_rows else []

    def _scalar(self, name: str, params: dict[str, Any] | None = None) -> int:
        return int(self._run(name, params)[0][0])

    def count_queue(self, queue: str) -> int:
        return self._scalar("count_queue", {"queue": queue})

    def pending_measured(self, queue: str) -> int:
        return self._scalar("pending_measured", {"queue": queue})

    def count_failed(self, queue: str) -> int:
        return self._scalar("count_failed", {"queue": queue})

    def worker_totals(self, name: str) -> sa.Row[Any]:
        return self._run("worker_totals", {"name": name})[0]

    def listening(self, since: dt.datetime) -> int:
        return self._scalar("listening", {"since": since})

    def now(self) -> dt.datetime:
        return self._run("now")[0][0]

    def insert_backlog(self, queue: str, prefix: str, payload: str, rows: int) -> None:
        self._run("insert_backlog", {"queue": queue, "prefix": prefix, "payload": payload,
                                     "rows": rows})

    def forget(self, queue: str) -> None:
        """Every trace of the scratch queue: its jobs, failed jobs, batches, workers, pause
        and limit."""
        for name, params in (("delete_jobs", {"queue": queue}),
                             ("delete_batches", {"queue": queue}),
                             ("delete_limits", {"queue": queue}),
                             ("delete_failed", {"queue": queue}),
                             ("delete_workers", {"name": queue}),
                             ("delete_paused", {"queue": queue})):
            self._run(name, params)

    def forget_workers(self, name: str) -> None:
        self._run("delete_workers", {"name": name})

    def delete_jobs(self, queue: str) -> None:
        self._run("delete_jobs", {"queue": queue})

    def settle(self) -> bool:
        """VACUUM (ANALYZE) jobs, then CHECKPOINT, so that neither lands in a measured window.

        Returns False when the role may not CHECKPOINT (PostgreSQL 15+ grants it with
        pg_checkpoint): the figures are then taken without it, and the output says so.
        """
        self._run("vacuum_jobs")
        try:
            self._run("checkpoint")
        except QueueDatabaseError as exc:
            if not isinstance(exc.__cause__, InsufficientPrivilege):
                raise
            return False
        return True

    def vacuum_jobs(self) -> None:
        self._run("vacuum_jobs")

    def jobs_bloat(self) -> dict[str, int]:
        return dict(self._run("jobs_bloat")[0]._mapping)

    def claim_probe_pages(self, queue: str) -> int:
        """Pages (buffers hit or read) one claim of `queue` touches, from EXPLAIN ANALYZE."""
        plan = self._run("claim_probe", {"queue": queue})[0][0][0]["Plan"]
        return int(plan["Shared Hit Blocks"] + plan["Shared Read Blocks"])

    def server(self) -> dict[str, str]:
        row = self._run("server")[0]
        return {"version": row.version, "synchronous_commit": row.synchronous_commit,
                "fsync": row.fsync}
