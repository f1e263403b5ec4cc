"""BatchStore: the statements on job_batches (batches.sql), one method each. What a member
job's outcome does to its batch rides in the worker's own statements (queries.sql)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.sql import BATCH_QUERIES, as_psycopg

INSERT_BATCH_SQL = as_psycopg(BATCH_QUERIES["insert_batch"])
ADD_TO_BATCH_SQL = as_psycopg(BATCH_QUERIES["add_to_batch"])
BATCH_FOR_ADD_SQL = as_psycopg(BATCH_QUERIES["batch_for_add"])
"""Run on the driver connection of the transaction that COPYs the batch's jobs in."""


class BatchStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def _run(self, name: str, params: dict[str, Any],
             connection: Connection | None = None) -> list[sa.Row[Any]]:
        with translated_errors(self.engine.url):
            if connection is not None:
                return list(connection.execute(BATCH_QUERIES[name], params))
            with self.autocommit.connect() as conn:
                result = conn.execute(BATCH_QUERIES[name], params)
                return list(result) if result.returns_rows else []

    def find(self, batch_id: str) -> sa.Row[Any] | None:
        rows = self._run("find_batch", {"id": batch_id})
        return rows[0] if rows else None

    def recent(self, limit: int) -> list[sa.Row[Any]]:
        return self._run("recent_batches", {"limit": limit})

    def cancel(self, batch_id: str) -> sa.Row[Any] | None:
        """(id, finished) if the batch was not cancelled already; None otherwise."""
        rows = self._run("cancel_batch", {"id": batch_id})
        return rows[0] if rows else None

    def failed_ids(self, batch_id: str) -> list[str]:
        return [row.id for row in self._run("failed_ids_of_batch", {"id": batch_id})]

    def prune(self, hours: float, unfinished: float | None, cancelled: float | None) -> int:
        rows = self._run("prune_batches", {"hours": hours, "unfinished": unfinished,
                                           "cancelled": cancelled})
        return int(rows[0].deleted)


__all__ = ["ADD_TO_BATCH_SQL", "BATCH_FOR_ADD_SQL", "INSERT_BATCH_SQL", "BatchStore"]
