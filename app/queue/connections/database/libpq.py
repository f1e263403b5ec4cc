"""The libpq fast path: the worker's claimer, and the connection helpers it shares with
dispatch's own connection (dispatching.py). Both send their one statement through libpq
itself (psycopg's `pgconn`) instead of SQLAlchemy and the pool.

Both are the hot paths of the queue (one per dispatch(), one per worker turn); the figures
that earn them their place are in the classes' docstrings. The dispatch connection raises the
driver's errors, which JobStore translates; the claimer translates its own.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import pq

from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.sql import (
    CLAIM_CARRYING_MEMBERS_SQL,
    CLAIM_JOBS_SQL,
)
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
