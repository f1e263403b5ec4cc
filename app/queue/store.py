"""JobStore: the only code that runs SQL. One method per named statement in queries.sql."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import sqlalchemy as sa
from psycopg import pq
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from app.queue.errors import ClaimRefused, DatabaseUnavailable, QueueError
from app.queue.settings import MAX_DELAY


def load_queries(path: Path) -> dict[str, sa.TextClause]:
    """`-- name: x` blocks of a .sql file, as SQLAlchemy text clauses keyed by name."""
    queries: dict[str, sa.TextClause] = {}
    for block in re.split(r"^-- name: ", path.read_text(), flags=re.MULTILINE)[1:]:
        name, _, body = block.partition("\n")
        sql = "\n".join(line for line in body.splitlines() if not line.startswith("--"))
        queries[name.strip()] = sa.text(sql.strip().rstrip(";"))
    return queries


QUERIES = load_queries(Path(__file__).with_name("queries.sql"))
INSERT_JOB_SQL = str(QUERIES["insert_job"].compile(dialect=postgresql.dialect()))


COPY_JOBS_SQL = "COPY jobs (id, queue, payload, priority) FROM STDIN"
COPY_CHUNK = 1000
"""Rows per write of a COPY: each write goes to the server at once, which stores them while
the next ones are made."""
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str) -> str:
    """`value` as a field of COPY's text format. Payloads are JSON, whose strings escape their
    control characters, so mostly only a backslash needs doubling, and usually none is there."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: str
    queue: str
    payload: str
    attempts: int


class NewJob(NamedTuple):
    """A row to insert (a tuple: built once per job by dispatch_many, 4x cheaper than a
    frozen dataclass)."""

    id: str
    queue: str
    payload: str
    priority: int


_REASONS = re.compile(
    r"connection refused|timeout expired|could not translate host name[^\n]*"
    r"|password authentication failed[^\n]*|database \"[^\"]+\" does not exist"
    r"|role \"[^\"]+\" does not exist|no such file or directory"
    r"|server closed the connection unexpectedly|terminating connection[^\n]*"
    r"|the database system is (?:starting up|shutting down)",
    re.IGNORECASE,
)


def describe_connect_error(url: sa.URL | str | None, exc: BaseException) -> str:
    """One line: where the database is, and why it cannot be used (not the driver's essay)."""
    where = "the configured address"
    if url is not None:
        parsed = sa.engine.make_url(url)
        host = parsed.query.get("host") or parsed.host or "localhost"
        host = host[0] if isinstance(host, tuple) else host
        where = host if host.startswith("/") else f"{host}:{parsed.port or 5432}"
    detail = str(getattr(exc, "orig", None) or exc)
    match = _REASONS.search(detail)
    if match:
        reason = match.group(0)
        reason = reason.lower() if reason.lower() == "connection refused" else reason
    else:
        lines = [line.strip() for line in detail.splitlines() if line.strip()]
        reason = lines[0] if lines else type(exc).__name__
    return f"cannot connect to database at {where}: {reason}"


@contextlib.contextmanager
def translated_errors(url: sa.URL | None = None) -> Iterator[None]:
    """Driver errors become queue errors at this boundary (the cause stays attached)."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg.OperationalError,
            psycopg.InterfaceError) as exc:
        raise DatabaseUnavailable(describe_connect_error(url, exc)) from exc
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailable(describe_connect_error(url, exc)) from exc
        raise


class JobStore:
    """Reads and writes the queue tables. Every method is one statement unless it says so."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Single statements need no BEGIN/COMMIT round trips around them.
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.dispatcher = dispatch_connection(engine)

    @contextlib.contextmanager
    def _connect(self, connection: Connection | None = None) -> Iterator[Connection]:
        with translated_errors(self.engine.url):
            if connection is not None:
                yield connection
            else:
                with self.autocommit.connect() as conn:
                    yield conn

    def _run(self, name: str, params: dict[str, Any] | None = None,
             connection: Connection | None = None) -> list[sa.Row[Any]]:
        with self._connect(connection) as conn:
            result = conn.execute(QUERIES[name], params or {})
            return list(result) if result.returns_rows else []

    # ------------------------------------------------------------------------- enqueue

    def insert_job(self, job: NewJob, delay: float, run_at: dt.datetime | None,
                   connection: Connection | None = None) -> None:
        params = {"id": job.id, "queue": job.queue, "payload": job.payload,
                  "priority": job.priority, "delay": delay, "run_at": run_at}
        if connection is not None:
            self._run("insert_job", params, connection)
            return
        # A dispatch of our own is one statement in autocommit, prepared, on the process's
        # dispatch connection; or, while another thread uses that, on a pooled one.
        with translated_errors(self.engine.url):
            if self.dispatcher.insert(params):
                return
            raw = self.engine.raw_connection()
            try:
                driver = raw.driver_connection
                assert isinstance(driver, psycopg.Connection)
                driver.autocommit = True
                driver.execute(INSERT_JOB_SQL, params, prepare=True)
                driver.autocommit = False
            except BaseException:
                # In an unknown state (autocommit still on, or broken): never pooled again.
                raw.invalidate()
                raise
            finally:
                raw.close()

    def insert_jobs(self, jobs: Iterable[NewJob], connection: Connection | None = None) -> None:
        """COPY the rows in (one statement, however many), then one NOTIFY per queue. `jobs`
        may be a generator: rows are sent as it yields them, so the server stores rows while
        the caller makes the next ones; if it raises, the COPY and its transaction fail."""
        with translated_errors(self.engine.url):
            if connection is not None:
                self._copy(connection, jobs)
                return
            with self.engine.begin() as own:
                self._copy(own, jobs)

    def _copy(self, conn: Connection, jobs: Iterable[NewJob]) -> None:
        raw = conn.connection.driver_connection
        assert raw is not None
        queues: dict[str, str] = {}  # name -> as COPY text
        lines: list[str] = []
        with raw.cursor() as cursor, cursor.copy(COPY_JOBS_SQL) as copy:
            for job in jobs:
                queue = queues.get(job.queue)
                if queue is None:
                    queue = queues[job.queue] = copy_text(job.queue)
                lines.append(f"{job.id}\t{queue}\t{copy_text(job.payload)}\t{job.priority:d}\n")
                if len(lines) == COPY_CHUNK:
                    copy.write("".join(lines))
                    lines.clear()
            if lines:
                copy.write("".join(lines))
        if queues:
            conn.execute(QUERIES["notify_queues"], {"queues": sorted(queues)})

    # --------------------------------------------------------------------------- worker

    def claim(self, worker_id: str, queues: Sequence[str], limit: int,
              acks: Sequence[str] = ()) -> list[ClaimedJob]:
        """Reserve up to `limit` jobs; delete the completed jobs `acks` in the same statement."""
        rows = self._run("claim_jobs", {"worker": worker_id, "queues": list(queues),
                                        "limit": limit, "acks": list(acks)})
        rows.sort(key=lambda row: row.position)
        return [ClaimedJob(row.id, row.queue, row.payload, row.attempts) for row in rows]

    def claimer(self, prepare: bool = True) -> Claimer:
        """A connection of its own for one worker's claims (see Claimer)."""
        return Claimer(self.engine.url, prepare)

    def reserved_job(self, job_id: str, worker_id: str) -> ClaimedJob | None:
        rows = self._run("reserved_job", {"id": job_id, "worker": worker_id})
        return ClaimedJob(rows[0].id, rows[0].queue, rows[0].payload, rows[0].attempts) \
            if rows else None

    def delete(self, worker_id: str, ids: Sequence[str]) -> None:
        self._run("delete_jobs", {"worker": worker_id, "ids": list(ids)})

    def release(self, worker_id: str, job_id: str, delay: float, error: str | None) -> bool:
        rows = self._run("release_job", {"worker": worker_id, "id": job_id,
                                         "delay": min(max(delay, 0.0), MAX_DELAY),
                                         "error": error})
        if rows and delay <= 0:
            self._run("notify_queues", {"queues": [rows[0].queue]})
        return bool(rows)

    def fail(self, worker_id: str, job_id: str, exception: str) -> bool:
        return bool(self._run("fail_job", {"worker": worker_id, "id": job_id,
                                           "exception": exception}))

    def append_failure_note(self, job_id: str, note: str) -> None:
        self._run("append_failure_note", {"id": job_id, "note": note})

    def set_progress(self, worker_id: str, job_id: str, percent: float,
                     message: str | None) -> None:
        self._run("set_progress", {"worker": worker_id, "id": job_id, "percent": percent,
                                   "message": message})

    def release_unstarted(self, worker_id: str, ids: Sequence[str]) -> None:
        self._run("release_unstarted", {"worker": worker_id, "ids": list(ids)})

    def give_back_unseen(self, worker_id: str, known: Sequence[str]) -> list[str]:
        rows = self._run("give_back_unseen", {"worker": worker_id, "known": list(known)})
        if rows:
            self._run("notify_queues", {"queues": sorted({row.queue for row in rows})})
        return [row.id for row in rows]

    def rescue_jobs_of_dead_workers(self, retry_after: float) -> list[str]:
        rows = self._run("rescue_jobs_of_dead_workers", {"retry_after": retry_after})
        if rows:
            self._run("notify_queues", {"queues": sorted({row.queue for row in rows})})
        return [row.id for row in rows]

    # -------------------------------------------------------------------------- workers

    def prune_stopped_workers(self) -> None:
        self._run("prune_stopped_workers")

    def register_worker(self, worker_id: str, name: str, host: str, pid: int,
                        queues: Sequence[str], concurrency: int) -> dt.datetime:
        rows = self._run("register_worker", {"id": worker_id, "name": name, "host": host,
                                             "pid": pid, "queues": list(queues),
                                             "concurrency": concurrency})
        return rows[0].started_at

    def heartbeat(self, worker_id: str, running: int, processed: int,
                  failed: int) -> sa.Row[Any] | None:
        rows = self._run("heartbeat", {"id": worker_id, "running": running,
                                       "processed": processed, "failed": failed})
        return rows[0] if rows else None

    def stop_worker(self, worker_id: str, processed: int, failed: int, reason: str) -> None:
        self._run("stop_worker", {"id": worker_id, "processed": processed, "failed": failed,
                                  "reason": reason})

    # ---------------------------------------------------------------------- control

    def signal_restart(self) -> dt.datetime:
        return self._run("signal_restart")[0].signalled_at

    def pause(self, queue: str) -> bool:
        """False if it was paused already."""
        return bool(self._run("pause_queue", {"queue": queue}))

    def resume(self, queue: str) -> bool:
        return bool(self._run("resume_queue", {"queue": queue}))

    def notify(self, queues: Sequence[str]) -> None:
        self._run("notify_queues", {"queues": list(queues)})

    def paused_queues(self) -> list[str]:
        return [row.queue for row in self._run("paused_queues")]

    def now(self) -> dt.datetime:
        return self._run("now")[0][0]

    def abandon_worker(self, worker_id: str, done: Sequence[str], unstarted: Sequence[str],
                       processed: int, failed: int) -> int:
        """A worker quitting at once: its jobs given back, its row stopped (one statement)."""
        rows = self._run("abandon_worker", {"worker": worker_id, "done": list(done),
                                            "unstarted": list(unstarted),
                                            "processed": processed, "failed": failed})
        return int(rows[0].given_back)


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


def connect_prepared(conninfo: str, name: bytes, sql: bytes,
                     setup: str | None = None) -> psycopg.Connection[Any]:
    """An autocommit connection of our own with `sql` prepared as `name` (after running
    `setup`). If the server refuses to prepare it (no `jobs` table, say), the driver's
    exception for that is raised and the connection closed."""
    conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=5,
                           application_name="skiplock")
    try:
        if setup:
            conn.execute(setup)
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


class DispatchConnection:
    """An autocommit connection of the process's own for dispatch() outside a caller's
    transaction, where the insert is one prepared statement sent through libpq itself.
    Against the same insert through psycopg's execute on a pooled connection, this saves
    ~45 us of pool check-out/in and autocommit switching and ~60 us of psycopg's per-call
    work: a dispatch costs ~100 us of CPU instead of ~230, on a ~450 us round trip here.

    Used by one thread at a time: `insert` answers False at once, sending nothing, while
    another thread holds it (that dispatch takes a pooled connection instead), so threads
    never wait for each other here. Reopened after an error that broke it and after
    RECYCLE_S, like the pool's connections; a forked child opens its own. A statement the
    server refuses wrote nothing (autocommit): it is run once more through psycopg, which
    raises the driver's own error for it, as every other statement does."""

    RECYCLE_S = 1800.0
    STATEMENT = b"skiplock_insert_job"

    def __init__(self, url: sa.URL) -> None:
        self.conninfo = libpq_conninfo(url)
        self.sql, self.names = positional(INSERT_JOB_SQL)
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = 0
        self._opened = 0.0

    def insert(self, params: dict[str, Any]) -> bool:
        if not self._lock.acquire(blocking=False):
            return False
        try:
            conn = self._connection()
            # None is SQL NULL (psycopg's own calls pass it so; its stub says bytes only).
            values: list[Any] = [None if (value := params[name]) is None
                      else (value.isoformat() if isinstance(value, dt.datetime)
                            else str(value)).encode() for name in self.names]
            result = conn.pgconn.exec_prepared(self.STATEMENT, values)
            if result.status != pq.ExecStatus.TUPLES_OK:
                self._refused(conn, params)
            return True
        finally:
            self._lock.release()

    def _refused(self, conn: psycopg.Connection[Any], params: dict[str, Any]) -> None:
        if conn.pgconn.status != pq.ConnStatus.OK:
            # Broken: whether the insert committed is unknown, so it is never sent again.
            self._conn = None
            raise psycopg.OperationalError(conn.pgconn.get_error_message().strip()
                                           or "the connection to the database was lost")
        conn.execute(INSERT_JOB_SQL, params)

    def _connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is not None and self._pid != os.getpid():
            conn = self._conn = None  # the parent's: psycopg leaves it alone in a child
        if conn is not None and (conn.closed or conn.broken
                                 or time.monotonic() - self._opened > self.RECYCLE_S):
            close_quietly(conn)
            conn = self._conn = None
        if conn is None:
            conn = connect_prepared(self.conninfo, self.STATEMENT, self.sql)
            self._conn, self._pid, self._opened = conn, os.getpid(), time.monotonic()
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                close_quietly(self._conn)
            self._conn = None


_dispatchers: weakref.WeakKeyDictionary[Engine, DispatchConnection] = (
    weakref.WeakKeyDictionary())
_dispatchers_lock = threading.Lock()


def dispatch_connection(engine: Engine) -> DispatchConnection:
    """The engine's one DispatchConnection, closed when the engine is disposed or freed."""
    with _dispatchers_lock:
        found = _dispatchers.get(engine)
        if found is None:
            found = _dispatchers[engine] = DispatchConnection(engine.url)
            sa.event.listen(engine, "engine_disposed", lambda _engine: found.close())
            weakref.finalize(engine, found.close)
        return found


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


class Claimer:
    """The worker's hot path: `claim_jobs` on a connection of its own, sent through libpq
    itself as a prepared statement. The pool and SQLAlchemy's per-call work cost as much as
    the round trip; psycopg's own per-call work (an array dumped element by element in
    Python, rows built by its loaders) ~250 us of CPU a claim, against ~80 us here. Not
    prepared behind PgBouncer in transaction mode (`prepare=False`), where a prepared
    statement may not exist on the next server connection. Used by one thread; reconnects
    on the next call after an error."""

    STATEMENT = b"skiplock_claim_jobs"

    def __init__(self, url: sa.URL, prepare: bool) -> None:
        self.url = url
        self.conninfo = libpq_conninfo(url)
        self.prepare = prepare
        self.sql, names = positional(str(QUERIES["claim_jobs"].compile(
            dialect=postgresql.dialect())))
        assert names == ("acks", "worker", "queues", "limit"), names
        self.conn: psycopg.Connection[Any] | None = None
        self._queues: tuple[Sequence[str], bytes] = ((), b"{}")

    def claim(self, worker_id: str, queues: Sequence[str], limit: int,
              acks: Sequence[str] = ()) -> list[ClaimedJob]:
        if self._queues[0] != queues:
            self._queues = (queues, text_array(queues))
        params = [text_array(acks), worker_id.encode(), self._queues[1], b"%d" % limit]
        try:
            with translated_errors(self.url):
                if self.conn is None or self.conn.closed:
                    self.conn = self._connect()
                pgconn = self.conn.pgconn
                if self.prepare:
                    result = pgconn.exec_prepared(self.STATEMENT, params)
                else:
                    result = pgconn.exec_params(self.sql, params)
                if result.status != pq.ExecStatus.TUPLES_OK:
                    self._refused(pgconn, result)
        except DatabaseUnavailable:
            self.close()
            raise
        value = result.get_value
        rows = sorted(range(result.ntuples), key=lambda row: int(value(row, 4) or 0))
        return [ClaimedJob(bytes(value(row, 0) or b"").decode(),
                           bytes(value(row, 1) or b"").decode(),
                           bytes(value(row, 2) or b"").decode(),
                           int(value(row, 3) or 0)) for row in rows]

    def _refused(self, pgconn: pq.abc.PGconn, result: pq.abc.PGresult) -> None:
        if pgconn.status != pq.ConnStatus.OK:
            raise psycopg.OperationalError(pgconn.get_error_message().strip()
                                           or "the connection to the database was lost")
        raise ClaimRefused(str(server_error(result)))

    def _connect(self) -> psycopg.Connection[Any]:
        if not self.prepare:
            return psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5,
                                   application_name="skiplock")
        try:
            return connect_prepared(self.conninfo, self.STATEMENT, self.sql,
                                    setup=CLAIM_SESSION_SETTINGS)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            raise ClaimRefused(str(exc)) from exc

    def close(self) -> None:
        if self.conn is not None:
            close_quietly(self.conn)
            self.conn = None


__all__ = ["ClaimedJob", "Claimer", "JobStore", "NewJob", "QueueError"]
