"""Driver errors become queue errors here, once, at the boundary (as procrastinate's
`wrap_exceptions`): every call the store classes make into psycopg or SQLAlchemy runs inside
`translated_errors`, so whichever path failed (the dispatch connection, the caller's
`connection=`, the pool, a claim, an admin query) the caller sees a `QueueDatabaseError`.

Its message is one line saying what is wrong and, where we know it, what to do; never the SQL
or its parameters, which SQLAlchemy's own message carries (they stay on the driver's exception,
its `__cause__`, for `--verbose`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import psycopg
import sqlalchemy as sa
from psycopg import errors as pg

from app.queue.errors import (
    DatabaseTimeout,
    DatabaseUnavailable,
    QueueDatabaseError,
    SchemaMissing,
)

QUEUE_TABLES = ("jobs", "failed_jobs", "workers", "paused_queues", "queue_signals")
MIGRATE = "run `python artisan.py migrate`"
LOCK_TIMEOUT_SETTING = "QUEUE_DISPATCH_LOCK_TIMEOUT"

_CONNECTION_STATES = ("08", "57P", "53", "28", "3D")
"""SQLSTATE classes of a connection that failed or was cut: connection exception, operator
intervention (shutdown), insufficient resources, authorization, no such database."""

_REASONS = re.compile(
    r"connection refused|timeout expired|could not translate host name[^\n]*"
    r"|password authentication failed[^\n]*|database \"[^\"]+\" does not exist"
    r"|role \"[^\"]+\" does not exist|no such file or directory"
    r"|server closed the connection unexpectedly|terminating connection[^\n]*"
    r"|the database system is (?:starting up|shutting down)",
    re.IGNORECASE,
)


@contextlib.contextmanager
def translated_errors(url: sa.URL | None = None,
                      lock_timeout: float | None = None) -> Iterator[None]:
    """Any driver or SQLAlchemy error raised inside becomes a QueueDatabaseError, raised from
    the driver's exception (the same on every path: SQLAlchemy's wrapper, when there is one,
    stays its __context__). `lock_timeout`: the block is a dispatch, whose lock wait
    QUEUE_DISPATCH_LOCK_TIMEOUT bounds (a lock timeout is then said in those words)."""
    try:
        yield
    except (psycopg.Error, sa.exc.SQLAlchemyError) as exc:
        raise database_error(exc, url, lock_timeout) from driver_error(exc)


def database_error(exc: BaseException, url: sa.URL | None = None,
                   lock_timeout: float | None = None) -> QueueDatabaseError:
    """The queue error for a driver's or SQLAlchemy's exception (see the module's docstring)."""
    driver = driver_error(exc)
    if connection_failed(exc, driver):
        return DatabaseUnavailable(describe_connect_error(url, exc))
    reason = server_message(driver)
    if isinstance(driver, pg.UndefinedTable) and names_a_queue_table(reason):
        # The server names the table: say which, so a table renamed away is not taken for
        # a database that was never migrated.
        return SchemaMissing(f"the queue tables do not exist in this database ({reason}): "
                             f"{MIGRATE}")
    if isinstance(driver, pg.UndefinedColumn):
        return SchemaMissing(f"the queue tables are older than this code ({reason}): {MIGRATE}")
    if isinstance(driver, pg.ReadOnlySqlTransaction):
        # Not the server's words: for dispatch's insert they are "cannot execute SELECT".
        return QueueDatabaseError("the database is read-only (a standby, or "
                                  "default_transaction_read_only is on): "
                                  "cannot write the queue tables")
    if isinstance(driver, pg.LockNotAvailable):
        return DatabaseTimeout(lock_timeout_message(lock_timeout))
    if isinstance(driver, pg.QueryCanceled):
        return DatabaseTimeout(cancelled_message(reason))
    if not isinstance(driver, psycopg.Error):  # SQLAlchemy's own (the pool's timeout, say)
        return QueueDatabaseError(f"a queue statement failed: {reason}")
    return QueueDatabaseError(f"the database refused a queue statement: {reason}")


def driver_error(exc: BaseException) -> BaseException:
    """psycopg's exception inside SQLAlchemy's wrapper (or `exc` itself)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        return exc.orig
    return exc


def connection_failed(exc: BaseException, driver: BaseException) -> bool:
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(driver, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    state = driver.sqlstate
    return state is None or state.startswith(_CONNECTION_STATES)


def server_message(exc: BaseException) -> str:
    """The first line of what the server said (its primary message), else of the error."""
    primary = exc.diag.message_primary if isinstance(exc, psycopg.Error) else None
    text = primary or str(exc)
    text = text.split("(Background on this error at:")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def names_a_queue_table(reason: str) -> bool:
    return any(f'relation "{table}"' in reason for table in QUEUE_TABLES)


def lock_timeout_message(lock_timeout: float | None) -> str:
    if lock_timeout:
        return (f"timed out waiting for a lock on jobs after {lock_timeout:g}s "
                f"({LOCK_TIMEOUT_SETTING})")
    return "timed out waiting for a lock (the server's lock_timeout)"


def cancelled_message(reason: str) -> str:
    if "statement timeout" in reason:
        return "a queue statement ran past the server's statement_timeout and was cancelled"
    return f"a queue statement was cancelled ({reason})"


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
