"""The one error tree (SPEC §14) and how driver errors are said in it (no database)."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import errors as pg

from app.queue import errors
from app.queue.connections.database.errors import database_error, translated_errors

SQL = "INSERT INTO jobs (id, payload) VALUES (%(id)s, %(payload)s)"
PARAMS = {"id": "01SECRETID", "payload": '{"password": "hunter2"}'}


def wrapped(orig: Exception) -> sa.exc.DBAPIError:
    """As SQLAlchemy raises it: its message carries the SQL and the parameters."""
    return sa.exc.DBAPIError.instance(SQL, PARAMS, orig, psycopg.Error)


def test_every_error_skiplock_raises_is_a_queue_error():
    for cls in (errors.QueueDatabaseError, errors.DatabaseUnavailable, errors.DatabaseTimeout,
                errors.SchemaMissing, errors.ClaimRefused, errors.PayloadError,
                errors.JobNotFound, errors.MaxAttemptsExceeded, errors.JobTimeout,
                errors.JobCancelled):
        assert issubclass(cls, errors.QueueError), cls
    for cls in (errors.DatabaseUnavailable, errors.SchemaMissing, errors.ClaimRefused):
        assert issubclass(cls, errors.QueueDatabaseError), cls
    assert issubclass(errors.JobTimeout, TimeoutError)


@pytest.mark.parametrize(("orig", "kind", "message"), [
    (pg.UndefinedTable('relation "jobs" does not exist'), errors.SchemaMissing,
     'the queue tables do not exist in this database (relation "jobs" does not exist): '
     "run `python artisan.py migrate`"),
    (pg.UndefinedColumn('column "progress" does not exist'), errors.SchemaMissing,
     'the queue tables are older than this code (column "progress" does not exist): '
     "run `python artisan.py migrate`"),
    (pg.ReadOnlySqlTransaction("cannot execute SELECT in a read-only transaction"),
     errors.QueueDatabaseError, "the database is read-only (a standby, or "
     "default_transaction_read_only is on): cannot write the queue tables"),
    (pg.QueryCanceled("canceling statement due to statement timeout"), errors.DatabaseTimeout,
     "a queue statement ran past the server's statement_timeout and was cancelled"),
    (pg.LockNotAvailable("canceling statement due to lock timeout"), errors.DatabaseTimeout,
     "timed out waiting for a lock (the server's lock_timeout)"),
    (pg.RaiseException("queue refused by policy"), errors.QueueDatabaseError,
     "the database refused a queue statement: queue refused by policy"),
    (psycopg.OperationalError("connection to server failed: Connection refused"),
     errors.DatabaseUnavailable, "cannot connect to database at db.example:5433: "
     "connection refused"),
    (pg.AdminShutdown("terminating connection due to administrator command"),
     errors.DatabaseUnavailable, "cannot connect to database at db.example:5433: "
     "terminating connection due to administrator command"),
])
def test_driver_errors_become_one_line_queue_errors_on_every_path(orig, kind, message):
    url = sa.make_url("postgresql+psycopg://u@db.example:5433/app")
    for raised in (orig, wrapped(orig)):  # our libpq path raises the first, SQLAlchemy the other
        error = database_error(raised, url)
        assert type(error) is kind
        assert str(error) == message
        assert "\n" not in str(error) and "hunter2" not in str(error)


def test_a_dispatch_lock_timeout_names_the_setting():
    error = database_error(pg.LockNotAvailable("canceling statement due to lock timeout"),
                           lock_timeout=2.5)
    assert str(error) == ("timed out waiting for a lock on jobs after 2.5s "
                          "(QUEUE_DISPATCH_LOCK_TIMEOUT)")


def test_the_cause_is_the_drivers_exception_whichever_path_raised():
    orig = pg.RaiseException("no")
    for raised in (orig, wrapped(orig)):
        with pytest.raises(errors.QueueDatabaseError) as caught, translated_errors():
            raise raised
        assert caught.value.__cause__ is orig


def test_sqlalchemys_own_errors_are_translated_too():
    with pytest.raises(errors.QueueDatabaseError) as caught, translated_errors():
        raise sa.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached, connection "
                                  "timed out, timeout 30.00 (Background on this error at: "
                                  "https://sqlalche.me/e/20/3o7r)")
    assert str(caught.value) == ("a queue statement failed: QueuePool limit of size 5 "
                                 "overflow 10 reached, connection timed out, timeout 30.00")
