"""Dispatch's own connection: one INSERT per dispatch() sent through libpq itself (psycopg's
`pgconn`), on a connection of its own, instead of SQLAlchemy and the pool. It raises the
driver's errors, which JobStore translates. The figures that earn it its place are in the
class's docstring; the claim, the worker's fast path, is libpq.py's Claimer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import pq
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from app.queue.connections.database.libpq import (
    Setup,
    close_quietly,
    connect_own,
    connect_prepared,
    libpq_conninfo,
    lock_timeout_ms,
    positional,
    refusal,
    text_array,
)
from app.queue.connections.database.sql import (
    INSERT_JOB_QUIETLY_SQL,
    INSERT_JOB_SQL,
    INSERT_UNIQUE_JOB_QUIETLY_SQL,
    INSERT_UNIQUE_JOB_SQL,
    NOTIFY_QUEUES_SQL,
    SET_LOCK_TIMEOUT_SQL,
)
from app.queue.connections.database.wakeups import Wakeups


@dataclass(frozen=True)
class Insert:
    """One of dispatch's inserts: its name when prepared, its SQL for psycopg's execute and
    for libpq's ($n), and its parameters' names in $n order. It returns a row if it inserted
    one (a unique job's duplicate inserts none). A unique dispatch, prepared beside the
    plain one, took 1.13 ms against 1.00 ms (108 against 100 us of client CPU; 2,000
    dispatches each, 6 alternated rounds, 2026-11-28 on a shared machine)."""

    name: bytes
    sql: str
    positional: bytes
    names: tuple[str, ...]

    @classmethod
    def of(cls, name: bytes, sql: str) -> Insert:
        return cls(name, sql, *positional(sql))


INSERT_JOB = Insert.of(b"skiplock_insert_job", INSERT_JOB_SQL)
INSERT_UNIQUE_JOB = Insert.of(b"skiplock_insert_unique_job", INSERT_UNIQUE_JOB_SQL)
QUIETLY = {
    INSERT_JOB: Insert.of(b"skiplock_insert_job_quietly", INSERT_JOB_QUIETLY_SQL),
    INSERT_UNIQUE_JOB: Insert.of(b"skiplock_insert_unique_job_quietly",
                                 INSERT_UNIQUE_JOB_QUIETLY_SQL),
}
"""Each insert without its NOTIFY, for a dispatch inside the wake-up window (wakeups.py)."""
NOTIFY_QUEUES_POSITIONAL, _ = positional(NOTIFY_QUEUES_SQL)


def insert_in_transaction(conn: psycopg.Connection[Any], params: Mapping[str, Any],
                          lock_timeout: float, insert: Insert) -> bool:
    """The insert in a transaction of its own, its lock wait bounded for that transaction
    only (`SET LOCAL`: no session state, for PgBouncer). Pipelined: BEGIN, the setting, the
    insert and COMMIT go in one round trip, but psycopg's pipeline costs ~450 us of CPU more
    than a plain execute: only behind PgBouncer is it worth no session setting."""
    with conn.pipeline(), conn.transaction():
        conn.execute(SET_LOCK_TIMEOUT_SQL,
                     {"timeout": lock_timeout_ms(lock_timeout), "local": True})
        cursor = conn.execute(insert.sql, params, prepare=False)
    return cursor.rowcount > 0


class DispatchConnection:
    """An autocommit connection of the process's own for dispatch() outside a caller's
    transaction, where the insert is one prepared statement sent through libpq itself.
    Against the same insert through psycopg's execute on a pooled connection, this saves
    ~45 us of pool check-out/in and autocommit switching and ~60 us of psycopg's per-call
    work: a dispatch costs ~100 us of CPU instead of ~230, on a ~450 us round trip here.
    QUEUE_DISPATCH_LOCK_TIMEOUT is a session setting, made once as it opens. A unique job's
    insert is a second statement prepared beside the first (see Insert).

    With `prepare=False` (QUEUE_LISTEN=false, for PgBouncer in transaction mode) nothing is
    prepared and no session setting is made: the insert is sent unprepared (exec_params), and
    a lock timeout is set for its own transaction.

    Used by one thread at a time: while another thread holds it, a dispatch takes a
    connection from a pool of dispatch's own instead, so threads never wait for each other
    here. That pool is the engine's recreated (the same connect arguments; connections open
    as needed: while threads dispatch at once, and for dispatch_many's transaction), its
    connections autocommit with the lock timeout set as they open: none of that per insert,
    and none of it on the engine's own connections, which serve migrations and the worker.
    Reopened after an error that broke it and after RECYCLE_S, like the pool's connections;
    a forked child opens its own connection and pool. A statement the
    server refuses wrote nothing (autocommit): its error is built from the server's answer,
    and the insert is never sent twice."""

    RECYCLE_S = 1800.0
    APPLICATION_NAME = "skiplock-dispatch"
    """As pg_stat_activity shows it (the pool's connections are `skiplock`)."""

    def __init__(self, engine: Engine, prepare: bool = True, lock_timeout: float = 0.0) -> None:
        self.conninfo = libpq_conninfo(engine.url)
        self.prepare = prepare
        self.lock_timeout = lock_timeout
        self.pool = engine.pool.recreate()
        sa.event.listen(self.pool, "connect", self._pool_connection_opened)
        self._pool_pid = os.getpid()
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = 0
        self._opened = 0.0
        self.wakeups = Wakeups(self._notify)

    def _notify(self, queues: Sequence[str]) -> None:
        """The timer's trailing NOTIFY, on a connection of the pool (never the one a dispatch
        may be using on another thread). ~200 us of CPU with the pool's check-out: sent by
        the timer once per window, it nearly doubled a dispatcher's CPU per job in a flow
        (8 processes x 2,000 dispatch(): 187 against 100 us a job, 2026-11-28), which is
        why the next dispatch carries it instead when one comes (wakeups.py)."""
        with self.pooled() as driver:
            pgconn = driver.pgconn
            result = pgconn.exec_params(NOTIFY_QUEUES_POSITIONAL, [text_array(queues)])
            if result.status != pq.ExecStatus.TUPLES_OK:
                raise refusal(pgconn, result)

    def insert(self, params: dict[str, Any], insert: Insert = INSERT_JOB) -> bool:
        """Run `insert`; False if it inserted nothing (a unique job's duplicate). It NOTIFYs
        only outside the wake-up window of its queue; inside, a trailing NOTIFY follows
        (wakeups.py)."""
        queue = params["queue"]
        notifies = self.wakeups.notify_with_insert(queue)
        inserted = False
        try:
            inserted = self._insert(params, insert if notifies else QUIETLY[insert])
            return inserted
        finally:
            # Quiet, or nothing inserted and so perhaps no NOTIFY (which may have been the
            # trailing one of earlier jobs), or an error after which both are unknown.
            if not (notifies and inserted):
                self.wakeups.inserted_quietly(queue)

    def _insert(self, params: dict[str, Any], insert: Insert) -> bool:
        if not self._lock.acquire(blocking=False):
            return self._insert_pooled(params, insert)
        try:
            return self._insert_own(params, insert)
        finally:
            self._lock.release()

    def _insert_own(self, params: dict[str, Any], insert: Insert) -> bool:
        conn = self._connection()
        if self._needs_transaction:
            try:
                return insert_in_transaction(conn, params, self.lock_timeout, insert)
            except psycopg.Error:
                self._forget_if_broken(conn)
                raise
        # None is SQL NULL (psycopg's own calls pass it so; its stub says bytes only).
        values: list[Any] = [None if (value := params[name]) is None
                  else (value.isoformat() if isinstance(value, dt.datetime)
                        else str(value)).encode() for name in insert.names]
        pgconn = conn.pgconn
        result = (pgconn.exec_prepared(insert.name, values) if self.prepare
                  else pgconn.exec_params(insert.positional, values))
        if result.status != pq.ExecStatus.TUPLES_OK:
            self._forget_if_broken(conn)
            raise refusal(pgconn, result)
        return result.ntuples > 0

    def _insert_pooled(self, params: dict[str, Any], insert: Insert) -> bool:
        with self.pooled() as driver:
            if self._needs_transaction:
                return insert_in_transaction(driver, params, self.lock_timeout, insert)
            return driver.execute(insert.sql, params, prepare=self.prepare).rowcount > 0

    @contextlib.contextmanager
    def pooled(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection of dispatch's own pool: autocommit, its lock wait bounded (a session
        setting, or behind PgBouncer none: see `transaction`)."""
        pooled = self._pool().connect()
        driver = pooled.driver_connection
        assert isinstance(driver, psycopg.Connection)
        try:
            yield driver
        except BaseException:
            if driver.broken:
                pooled.invalidate()  # whether it committed is unknown: never pooled again
            raise
        finally:
            pooled.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A transaction on a connection of dispatch's own pool (dispatch_many's), its lock
        wait bounded: by the session's setting, or behind PgBouncer by SET LOCAL."""
        with self.pooled() as driver, driver.transaction():
            if self._needs_transaction:
                driver.execute(SET_LOCK_TIMEOUT_SQL,
                               {"timeout": lock_timeout_ms(self.lock_timeout), "local": True})
            yield driver

    def _pool(self) -> Pool:
        if self._pool_pid != os.getpid():
            # A forked child: the parent's connections are the parent's (their sockets are
            # shared). A new pool, same settings and listeners; the parent's is left alone.
            self.pool, self._pool_pid = self.pool.recreate(), os.getpid()
        return self.pool

    @property
    def _needs_transaction(self) -> bool:
        """A lock timeout without a session to set it in (PgBouncer)."""
        return not self.prepare and self.lock_timeout > 0

    def _session_setup(self) -> Setup:
        if not self.prepare or not self.lock_timeout:
            return []
        return [(SET_LOCK_TIMEOUT_SQL, {"timeout": lock_timeout_ms(self.lock_timeout),
                                        "local": False})]

    def _pool_connection_opened(self, dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.autocommit = True
        for sql, params in self._session_setup():
            dbapi_connection.execute(sql, params)

    def _forget_if_broken(self, conn: psycopg.Connection[Any]) -> None:
        # Broken: whether the insert committed is unknown, so it is never sent again.
        if conn.pgconn.status != pq.ConnStatus.OK:
            close_quietly(conn)
            self._conn = None

    def _connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is not None and self._pid != os.getpid():
            conn = self._conn = None  # the parent's: psycopg leaves it alone in a child
        if conn is not None and (conn.closed or conn.broken
                                 or time.monotonic() - self._opened > self.RECYCLE_S):
            close_quietly(conn)
            conn = self._conn = None
        if conn is None:
            conn = self._open()
            self._conn, self._pid, self._opened = conn, os.getpid(), time.monotonic()
        return conn

    def _open(self) -> psycopg.Connection[Any]:
        if not self.prepare:
            return connect_own(self.conninfo, application_name=self.APPLICATION_NAME)
        return connect_prepared(
            self.conninfo, [(insert.name, insert.positional)
                            for insert in (INSERT_JOB, INSERT_UNIQUE_JOB, *QUIETLY.values())],
            self._session_setup(), self.APPLICATION_NAME)

    def close(self) -> None:
        self.wakeups.close()
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                close_quietly(self._conn)
            self._conn = None
        if self._pool_pid == os.getpid():
            self.pool.dispose()


_dispatchers: weakref.WeakKeyDictionary[
    Engine, dict[tuple[bool, float], DispatchConnection]] = weakref.WeakKeyDictionary()
_dispatchers_lock = threading.Lock()


def dispatch_connection(engine: Engine, prepare: bool = True,
                        lock_timeout: float = 0.0) -> DispatchConnection:
    """The engine's one DispatchConnection (for these settings), closed when the engine is
    disposed or freed."""
    with _dispatchers_lock:
        found = _dispatchers.get(engine)
        if found is None:
            found = _dispatchers[engine] = {}
            sa.event.listen(engine, "engine_disposed", lambda _engine: _close_all(found))
            weakref.finalize(engine, _close_all, found)
        key = (prepare, lock_timeout)
        if key not in found:
            found[key] = DispatchConnection(engine, prepare, lock_timeout)
        return found[key]


def _close_all(dispatchers: dict[tuple[bool, float], DispatchConnection]) -> None:
    for dispatcher in list(dispatchers.values()):
        dispatcher.close()
