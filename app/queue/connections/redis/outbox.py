"""The failed records' way home: from each queue's Redis outbox (where the `fail` and `cancel`
scripts write them, atomically with the job's removal) into the database's failed_jobs,
where queue:failed, queue:retry and the dashboard read every connection's failures.

At-least-once and idempotent: rows are inserted (ON CONFLICT DO NOTHING on the id) and
committed before they leave the outbox, so a crash between the two moves a record twice, and
the second insert does nothing. Not called by anything yet: the worker's heartbeat thread is
meant to (the next step, docs/incoming/redis.md)."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from app.queue.connections.database.errors import translated_errors as database_errors
from app.queue.connections.redis.errors import translated_errors
from app.queue.connections.redis.store import RedisStore
from app.queue.text import storable

INSERT_FAILED = sa.text(
    "INSERT INTO failed_jobs (id, connection, queue, payload, attempts, priority, exception,"
    " failed_at) VALUES (:id, :connection, :queue, CAST(:payload AS jsonb), :attempts,"
    " :priority, :exception, :failed_at) ON CONFLICT (id) DO NOTHING")
PER_QUEUE = 500
"""Records moved per queue per call: one insert and one Redis round trip each."""


def move_failed_jobs(store: RedisStore, engine: sa.Engine, connection: str = "redis",
                     per_queue: int = PER_QUEUE) -> int:
    """Move up to `per_queue` of each queue's oldest failed records into failed_jobs, their
    `connection` column naming the Redis connection; return how many were moved."""
    moved = 0
    for queue in store.queues():
        moved += _move_queue(store, engine, queue, connection, per_queue)
    return moved


def _move_queue(store: RedisStore, engine: sa.Engine, queue: str, connection: str,
                per_queue: int) -> int:
    keys = store.keys(queue)
    with translated_errors(store.where):
        ids = store.client.zrange(keys.failed_order, 0, per_queue - 1)
        if not ids:
            return 0
        raws = store.client.hmget(keys.failed, ids)
    rows = [_row(raw, connection) for raw in raws if raw is not None]
    if rows:
        with database_errors(engine.url), engine.begin() as conn:
            conn.execute(INSERT_FAILED, rows)
    with translated_errors(store.where):
        # Both keys carry the queue's tag: one slot, one node.
        store.client.hdel(keys.failed, *ids)
        store.client.zrem(keys.failed_order, *ids)
    return len(rows)


def _row(raw: str, connection: str) -> dict[str, object]:
    record = json.loads(raw)
    return {"id": record["id"], "connection": connection, "queue": record["queue"],
            "payload": record["payload"], "attempts": int(record["attempts"]),
            "priority": int(record["priority"]), "exception": storable(record["exception"]),
            "failed_at": dt.datetime.fromtimestamp(record["failed_at"] / 1000, dt.UTC)}
