"""A database that answers but will not do what the queue asks: read-only, a table locked by
another session, a statement_timeout. Each is one clear QueueDatabaseError for dispatch() and
one line for queue:work, never a wait without end or a traceback with SQL in it."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
import sqlalchemy as sa

from app.bootstrap import queue_settings
from app.queue import context, dispatch, dispatch_many
from app.queue.context import QueueContext
from app.queue.errors import DatabaseUnavailable, QueueDatabaseError
from tests.jobs.basic import Record
from tests.support import artisan, count, dispatch_connection_busy

READ_ONLY = ("the database is read-only (a standby, or default_transaction_read_only is on): "
             "cannot write the queue tables")


@contextlib.contextmanager
def queue_on(url: sa.URL | str, **settings: object) -> Iterator[QueueContext]:
    """The process's queue bound to `url` with these settings, for one test."""
    bound = sa.create_engine(url)
    ctx = QueueContext(settings=dataclasses.replace(queue_settings(), **settings),
                       engine_factory=lambda: bound)
    context.use(ctx)
    try:
        yield ctx
    finally:
        context.use(None)
        bound.dispose()


# ------------------------------------------------------------------------------ read-only


@pytest.fixture
def read_only_url(queue, engine: sa.Engine) -> Iterator[str]:
    """A role whose transactions are read-only by default (as on a standby, or a role kept
    from writing), with every privilege on the queue tables; dropped after."""
    role = f"skl_db_read_only_{os.getpid()}"
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(sa.text(f"ALTER ROLE {role} SET default_transaction_read_only = on"))
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        conn.execute(sa.text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"))
    yield engine.url.set(username=role, password=None).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role"),
            {"role": role})
        conn.execute(sa.text(f"DROP OWNED BY {role}"))
        conn.execute(sa.text(f"DROP ROLE {role}"))


def test_dispatch_to_a_read_only_database_is_one_clear_error(read_only_url, engine):
    with queue_on(read_only_url) as ctx:
        sends: list[Callable[[], object]] = [
            lambda: dispatch(Record("a")), lambda: dispatch_many([Record("b"), Record("c")])]
        for send in sends:
            with pytest.raises(QueueDatabaseError) as refused:
                send()
            assert str(refused.value) == READ_ONLY
            assert isinstance(refused.value.__cause__, psycopg.errors.ReadOnlySqlTransaction)
        with dispatch_connection_busy(ctx.store), pytest.raises(QueueDatabaseError) as pooled:
            dispatch(Record("d"))
        assert str(pooled.value) == READ_ONLY
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_a_worker_on_a_read_only_database_says_so_in_one_line(read_only_url):
    result = artisan("queue:work", "--stop-when-empty", "--max-time", "20",
                     env={"DATABASE_URL": read_only_url}, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {READ_ONLY}", result.stderr


# --------------------------------------------------------------------------- lock timeout


@pytest.fixture
def jobs_locked(engine: sa.Engine) -> Iterator[Callable[[], None]]:
    """Another session holds ACCESS EXCLUSIVE on jobs (as a migration or a careless LOCK
    TABLE would). It gives up after 20 s by itself, so a dispatch that waits for it cannot
    hang the suite. Yields a function that releases the lock now."""
    holder = engine.connect()
    holder.execute(sa.text("SET idle_in_transaction_session_timeout = '20s'"))
    holder.execute(sa.text("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE"))
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            holder.rollback()
            holder.close()

    yield release
    with contextlib.suppress(sa.exc.DBAPIError):
        release()


@pytest.mark.parametrize("path", ["own connection", "pooled connection", "dispatch_many"])
def test_dispatch_behind_a_lock_gives_up_after_the_lock_timeout(queue, engine, database_url,
                                                                 jobs_locked, path):
    with queue_on(database_url, dispatch_lock_timeout=1.0) as ctx:
        ctx.store.now()  # connected before the clock starts
        busy = dispatch_connection_busy(ctx.store) if path == "pooled connection" \
            else contextlib.nullcontext()
        started = time.monotonic()
        with busy, pytest.raises(QueueDatabaseError) as timed_out:
            if path == "dispatch_many":
                dispatch_many([Record("a"), Record("b")])
            else:
                dispatch(Record("a"))
        waited = time.monotonic() - started
        assert str(timed_out.value) == ("timed out waiting for a lock on jobs after 1s "
                                        "(QUEUE_DISPATCH_LOCK_TIMEOUT)")
        assert isinstance(timed_out.value.__cause__, psycopg.errors.LockNotAvailable)
        assert 0.9 <= waited < 5, waited
        jobs_locked()
        dispatch(Record("after"))  # the same connections work once the lock is gone
    assert count(engine, "SELECT count(*) FROM jobs") == 1


def test_a_lock_timeout_of_0_waits_for_the_lock(queue, engine, database_url, jobs_locked):
    with queue_on(database_url, dispatch_lock_timeout=0.0):
        threading.Timer(1.5, jobs_locked).start()
        started = time.monotonic()
        dispatch(Record("a"))
        assert 1.4 <= time.monotonic() - started < 15
    assert count(engine, "SELECT count(*) FROM jobs") == 1


def slow_record(tag: str) -> Record:
    job = Record(tag)
    job.queue = "slow"
    return job


@pytest.mark.parametrize("send", [lambda: dispatch(slow_record("a")),
                                  lambda: dispatch_many([slow_record("b")])],
                         ids=["dispatch", "dispatch_many"])
def test_a_statement_timeout_is_said_as_one_not_as_a_lost_connection(queue, engine,
                                                                     database_url, send):
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.queue = 'slow' THEN PERFORM pg_sleep(5); END IF; RETURN NEW; END $$"))
        conn.execute(sa.text("CREATE TRIGGER slow BEFORE INSERT ON jobs "
                             "FOR EACH ROW EXECUTE FUNCTION slow_insert()"))
    url = sa.make_url(database_url).update_query_dict({"options": "-cstatement_timeout=300"})
    try:
        with queue_on(url):
            with pytest.raises(QueueDatabaseError) as cancelled:
                send()
            dispatch(Record("fast"))  # the connection is still good
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER slow ON jobs"))
            conn.execute(sa.text("DROP FUNCTION slow_insert()"))
    assert str(cancelled.value) == ("a queue statement ran past the server's statement_timeout "
                                    "and was cancelled")
    assert isinstance(cancelled.value, DatabaseUnavailable)  # like an outage, it may pass
    assert isinstance(cancelled.value.__cause__, psycopg.errors.QueryCanceled)
    assert count(engine, "SELECT count(*) FROM jobs") == 1
