"""The libpq fast path: dispatch's own connection and the worker's claimer, which send their
one statement through libpq itself (psycopg's `pgconn`) instead of SQLAlchemy and the pool.

Both are the hot paths of the queue (one per dispatch(), one per worker turn); the figures
that earn them their place are in the classes' docstrings. The dispatch connection raises the
driver's errors, which JobStore translates; the claimer translates its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import pq
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.sql import (
    CLAIM_CARRYING_MEMBERS_SQL,
    CLAIM_JOBS_SQL,
    INSERT_JOB_QUIETLY_SQL,
    INSERT_JOB_SQL,
    INSERT_UNIQUE_JOB_QUIETLY_SQL,
    INSERT_UNIQUE_JOB_SQL,
    NOTIFY_QUEUES_SQL,
    SET_LOCK_TIMEOUT_SQL,
)
from app.queue.connections.database.wakeups import Wakeups
from app.queue.connections.records import ClaimedJob
from app.queue.errors import ClaimRefused, DatabaseUnavailable

Setup = Sequence[tuple[str, Mapping[str, Any] | None]]
"""Statements (with their parameters, or None for several in one string) run on a connection
of our own as it opens."""


def positional(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """psycopg's `%(name)s` placeholders as libpq's `$n`, and the names in `$n` order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "%"  # psycopg's escape for a literal %
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s|%%", number, sql).encode(), tuple(names)


def libpq_conninfo(url: sa.URL) -> str:
    """The engine's URL as psycopg/libpq take it (no SQLAlchemy driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def connect_own(conninfo: str, setup: Setup = (),
                application_name: str = "skiplock") -> psycopg.Connection[Any]:
    """An autocommit connection of our own that never prepares a statement by itself
    (psycopg would after five runs of one: behind PgBouncer in transaction mode, the next
    server connection does not have it)."""
    conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=5,
                           application_name=application_name, prepare_threshold=None)
    try:
        for sql, params in setup:
            conn.execute(sql, params)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_prepared(conninfo: str, statements: Iterable[tuple[bytes, bytes]],
                     setup: Setup = (),
                     application_name: str = "skiplock") -> psycopg.Connection[Any]:
    """connect_own() with each (name, sql) of `statements` prepared. If the server refuses to
    prepare one (no `jobs` table, say), the driver's exception for that is raised and the
    connection closed."""
    conn = connect_own(conninfo, setup, application_name)
    try:
        for name, sql in statements:
            prepared = conn.pgconn.prepare(name, sql)
            if prepared.status != pq.ExecStatus.COMMAND_OK:
                raise server_error(prepared)
    except BaseException:
        conn.close()
        raise
    return conn


def close_quietly(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(psycopg.Error):
        conn.close()


def server_error(result: pq.abc.PGresult) -> psycopg.Error:
    """The driver's exception for a statement the server refused (its class by SQLSTATE,
    as psycopg raises it), with the first line of the server's message."""
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    message = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY)
    text = bytes(message).decode(errors="replace").strip() if message else ""
    try:
        cls = psycopg.errors.lookup(bytes(state).decode()) if state else psycopg.DatabaseError
    except KeyError:
        cls = psycopg.DatabaseError
    return cls(text.splitlines()[0] if text else "the statement failed")


def refusal(pgconn: pq.abc.PGconn, result: pq.abc.PGresult) -> psycopg.Error:
    """Why a statement sent through libpq did not succeed: the connection broke (whether it
    committed is then unknown), or the server refused it and wrote nothing."""
    if pgconn.status != pq.ConnStatus.OK:
        return psycopg.OperationalError(pgconn.get_error_message().strip()
                                        or "the connection to the database was lost")
    return server_error(result)


def lock_timeout_ms(seconds: float) -> str:
    return str(max(round(seconds * 1000), 1))


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


CLAIM_SESSION_SETTINGS = (
    "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; "
    "SET enable_bitmapscan = off; SET enable_sort = off"
)
"""For the claimer's own connection, which runs nothing but the claim. PostgreSQL otherwise
plans the prepared claim anew on every call (~0.25 ms of a ~1.2 ms claim on an idle worker, and
of every turn of a busy one), because it guesses a plan for the actual values may be cheaper.
A plan made once must be one that walks jobs_claim_idx in claim order whatever the table
holds: left free, the generic plan reads `LIMIT $n` as a tenth of the table and, on a table
that is one queue, picks a full scan and a sort (5 ms a claim at 10,000 rows). With scans
that ignore the order and sorts priced out, the index walk is the plan at any size."""


def text_array(values: Iterable[str]) -> bytes:
    """A text[] literal, every element quoted (so an id spelled NULL stays text)."""
    return ("{" + ",".join(
        f'"{v}"' if v.isalnum() else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in values) + "}").encode()


def _text_or_none(value: Any) -> str | None:
    return None if value is None else bytes(value).decode()


class Claimer:
    """The worker's hot path and its only claim: `claim_jobs` on a connection of its own,
    sent through libpq itself as a prepared statement. The pool and SQLAlchemy's per-call work
    cost as much as the round trip; psycopg's own per-call work (an array dumped element by
    element in Python, rows built by its loaders) ~250 us of CPU a claim, against ~80 us here.
    Not prepared behind PgBouncer in transaction mode (`prepare=False`), where a prepared
    statement may not exist on the next server connection. Used by one thread; reconnects
    on the next call after an error."""

    STATEMENT = b"skiplock_claim_jobs"
    CARRYING = b"skiplock_claim_jobs_carrying"
    """claim_jobs with carry_on_members: sent when the acks hold a member of a chain or
    batch, prepared on the connection the first time it is."""

    def __init__(self, url: sa.URL, prepare: bool) -> None:
        self.url = url
        self.conninfo = libpq_conninfo(url)
        self.prepare = prepare
        self.sql, names = positional(CLAIM_JOBS_SQL)
        self.carrying_sql, carrying_names = positional(CLAIM_CARRYING_MEMBERS_SQL)
        assert names == carrying_names == ("acks", "worker", "queues", "limit"), names
        self._carrying_prepared = False
        self.conn: psycopg.Connection[Any] | None = None
        self._queues: tuple[Sequence[str], bytes] = ((), b"{}")
        self.finished_batches: list[str] = []
        """The batches the last claim's acknowledgements finished (for BatchFinished)."""

    def claim(self, worker_id: str, queues: Sequence[str], limit: int,
              acks: Sequence[str] = (), carry_on: bool = False) -> list[ClaimedJob]:
        """Reserve up to `limit` jobs of `queues`, in claim order. Where is a done job
        deleted? Here, always: `acks` (the worker's jobs done since its last claim) are
        deleted by the same statement (the `acked` step of claim_jobs), which saves a commit
        per turn. `carry_on`: a member of a chain or batch is among them (its chain and
        batch are carried on in the same statement; see `finished_batches`)."""
        if self._queues[0] != queues:
            self._queues = (queues, text_array(queues))
        return self._send([text_array(acks), worker_id.encode(), self._queues[1],
                           b"%d" % limit], carry_on)

    def acknowledge(self, worker_id: str, acks: Sequence[str], carry_on: bool = False) -> None:
        """Delete completed jobs without claiming (a stopping worker's, or a full one's):
        the claim statement with no queue."""
        self._send([text_array(acks), worker_id.encode(), b"{}", b"0"], carry_on)

    def _send(self, params: list[bytes], carry_on: bool) -> list[ClaimedJob]:
        try:
            with translated_errors(self.url):
                if self.conn is None or self.conn.closed:
                    self.conn = self._connect()
                pgconn = self.conn.pgconn
                if not self.prepare:
                    result = pgconn.exec_params(self.carrying_sql if carry_on else self.sql,
                                                params)
                elif carry_on:
                    self._prepare_carrying(pgconn)
                    result = pgconn.exec_prepared(self.CARRYING, params)
                else:
                    result = pgconn.exec_prepared(self.STATEMENT, params)
                if result.status != pq.ExecStatus.TUPLES_OK:
                    self._refused(pgconn, result)
        except DatabaseUnavailable:
            self.close()
            raise
        value = result.get_value
        # Rows with no id name a batch the acknowledgements finished (see claim_jobs).
        self.finished_batches = [bytes(value(row, 9) or b"").decode()
                                 for row in range(result.ntuples) if value(row, 0) is None]
        rows = sorted((row for row in range(result.ntuples) if value(row, 0) is not None),
                      key=lambda row: int(value(row, 4) or 0))
        return [ClaimedJob(bytes(value(row, 0) or b"").decode(),
                           bytes(value(row, 1) or b"").decode(),
                           bytes(value(row, 2) or b"").decode(),
                           int(value(row, 3) or 0),
                           float(value(row, 5) or 0),
                           _text_or_none(value(row, 6)),
                           _text_or_none(value(row, 7)),
                           value(row, 8) == b"t") for row in rows]

    def _refused(self, pgconn: pq.abc.PGconn, result: pq.abc.PGresult) -> None:
        error = refusal(pgconn, result)
        if pgconn.status != pq.ConnStatus.OK:
            raise error
        raise ClaimRefused(str(error)) from error

    def _prepare_carrying(self, pgconn: pq.abc.PGconn) -> None:
        if not self._carrying_prepared:
            prepared = pgconn.prepare(self.CARRYING, self.carrying_sql)
            if prepared.status != pq.ExecStatus.COMMAND_OK:
                self._refused(pgconn, prepared)
            self._carrying_prepared = True

    def _connect(self) -> psycopg.Connection[Any]:
        self._carrying_prepared = False
        if not self.prepare:
            return connect_own(self.conninfo)
        try:
            return connect_prepared(self.conninfo, [(self.STATEMENT, self.sql)],
                                    setup=[(CLAIM_SESSION_SETTINGS, None)])
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            raise ClaimRefused(str(exc)) from exc

    def close(self) -> None:
        if self.conn is not None:
            close_quietly(self.conn)
            self.conn = None
