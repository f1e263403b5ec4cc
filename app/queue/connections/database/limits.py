"""LimitStore: the state of middleware limits in `job_limits` (SQL in limits.sql). Every
decision about a key is one short transaction under that key's advisory lock, so workers on
any number of hosts see one another's starts and holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.engine import Connection, Engine

from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.sql import LIMIT_QUERIES

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LimitState:
    """What counts for a key at the moment of a decision (see limit_state in limits.sql)."""

    times: tuple[float, ...]
    """Seconds from now to each start or exception still in the window, oldest first (≤ 0)."""
    others: int
    """Jobs other than this one holding the key."""
    free_in: float | None
    """Seconds until the first of those holds could end by itself (expiry, dead worker)."""
    waiting_ahead: int
    """Jobs held back for this key that are due before this one."""


class KeyWrites:
    """The writes a decision may make, in its transaction (the key's lock still held)."""

    def __init__(self, conn: Connection, key: str, job_id: str) -> None:
        self.conn, self.key, self.job_id = conn, key, job_id

    def put(self, kind: str, in_seconds: float = 0.0, worker_id: str | None = None,
            expires_in: float | None = None, drop: tuple[str, ...] = ()) -> None:
        """A row of `kind` for the job (due in `in_seconds`), its rows of the kinds in `drop`
        deleted: one statement."""
        self.conn.execute(LIMIT_QUERIES["put_limit"], {
            "key": self.key, "kind": kind, "job_id": self.job_id, "in_seconds": in_seconds,
            "worker_id": worker_id, "expires_in": expires_in, "drop": list(drop)})


class LimitStore:
    def __init__(self, engine: Engine, retry_after: float) -> None:
        self.engine = engine
        self.retry_after = retry_after

    def decide(self, key: str, job_id: str, window: float,
               choose: Callable[[LimitState, KeyWrites], T]) -> T:
        """Lock `key`, forget what no longer counts (starts older than `window` seconds, dead
        holds) and read the rest, and let `choose` write its decision, all in one
        transaction: four round trips (BEGIN and the lock, the state, the write, COMMIT)
        while other decisions about the key wait."""
        params = {"key": key, "job_id": job_id, "window": window,
                  "retry_after": self.retry_after}
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            conn.execute(LIMIT_QUERIES["lock_limit_key"], params)
            row = conn.execute(LIMIT_QUERIES["limit_state"], params).one()
            state = LimitState(tuple(row.times or ()), row.others, row.free_in,
                               row.waiting_ahead)
            return choose(state, KeyWrites(conn, key, job_id))

    def record(self, key: str, kind: str, job_id: str) -> None:
        """One row of `kind` now, outside any decision (an exception to count)."""
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            KeyWrites(conn, key, job_id).put(kind)

    def forget_kind(self, key: str, kind: str) -> None:
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            conn.execute(LIMIT_QUERIES["drop_limits_of_kind"], {"key": key, "kind": kind})

    def free_hold(self, key: str, job_id: str) -> None:
        """End the hold of `job_id` and wake the job that has waited longest for `key`."""
        params = {"key": key, "job_id": job_id}
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            conn.execute(LIMIT_QUERIES["lock_limit_key"], params)
            conn.execute(LIMIT_QUERIES["free_hold"], params)
