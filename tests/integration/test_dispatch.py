"""dispatch, dispatch_many, dispatch_sync and transactional dispatch on a real PostgreSQL."""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import os
import re
import time

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from ulid import ULID

from app.queue import (
    Abort,
    DatabaseUnavailable,
    MaxAttemptsExceeded,
    dispatch,
    dispatch_many,
    dispatch_sync,
)
from app.queue.connections.database.store import JobStore
from app.queue.connections.records import NewJob
from app.queue.errors import QueueDatabaseError, SchemaMissing
from tests.jobs.sample_jobs import AsyncFlaky, Carry, Counted, Derived, GivesUp, Releases
from tests.support import count, dispatch_connection_busy


def row(engine: sa.Engine, job_id: str) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT queue, priority, attempts, reserved_at, "
            "extract(epoch FROM available_at - now()) AS wait FROM jobs WHERE id = :id"),
            {"id": job_id}).one()


def test_dispatch_returns_a_ulid_and_uses_class_settings(queue, engine):
    job_id = dispatch(Derived(1))
    ULID.from_str(job_id)
    stored = row(engine, job_id)
    assert (stored.queue, stored.priority, stored.attempts, stored.reserved_at) == \
        ("derived", 4, 0, None)
    assert stored.wait <= 0


def test_options_override_the_class(queue, engine):
    stored = row(engine, dispatch(Derived(1), queue="high", priority=-5))
    assert (stored.queue, stored.priority) == ("high", -5)
    assert row(engine, Carry.dispatch(3)).queue == "default"


@pytest.mark.parametrize("delay", [60, 60.0, dt.timedelta(minutes=1)])
def test_delay_in_seconds_or_timedelta(queue, engine, delay):
    assert 55 < row(engine, dispatch(Carry(1), delay=delay)).wait <= 60


def test_delay_as_an_aware_datetime_is_the_time_to_run(queue, engine):
    at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert 7000 < row(engine, dispatch(Carry(1), delay=at)).wait <= 7200


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"delay": -1}, ValueError),
    ({"delay": float("nan")}, ValueError),
    ({"delay": float("inf")}, ValueError),
    ({"delay": dt.datetime(2030, 1, 1)}, ValueError),  # naive
    ({"delay": "soon"}, TypeError),
    ({"priority": 2**40}, ValueError),
    ({"priority": True}, TypeError),
    ({"priority": 1.5}, TypeError),
    ({"queue": ""}, ValueError),
    ({"queue": "x" * 300}, ValueError),
    ({"queue": "line\nbreak"}, ValueError),
])
def test_bad_options_raise_and_enqueue_nothing(queue, engine, kwargs, error):
    with pytest.raises(error):
        dispatch(Carry(1), **kwargs)
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_queue_names_are_stored_verbatim_never_executed(queue, engine):
    name = "x'; DROP TABLE jobs; --"
    assert row(engine, dispatch(Carry(1), queue=name)).queue == name
    assert count(engine, "SELECT count(*) FROM jobs") == 1


def test_dispatch_rejects_what_is_not_a_job(queue):
    with pytest.raises(TypeError, match="Job instance"):
        dispatch("SendWelcomeEmail")  # type: ignore[arg-type]


def listener(database_url: str) -> psycopg.Connection:
    conn = psycopg.connect(sa.engine.make_url(database_url).set(drivername="postgresql")
                           .render_as_string(hide_password=False), autocommit=True)
    conn.execute("LISTEN skiplock")
    return conn


def test_transactional_dispatch_rollback_leaves_nothing(queue, engine, database_url):
    with listener(database_url) as listen:
        with engine.connect() as conn:
            trans = conn.begin()
            dispatch(Carry(1), connection=conn)
            assert count(engine, "SELECT count(*) FROM jobs") == 0  # not visible before commit
            trans.rollback()
        assert count(engine, "SELECT count(*) FROM jobs") == 0
        assert list(listen.notifies(timeout=0.5)) == []


def test_transactional_dispatch_commit_writes_and_notifies(queue, engine, database_url):
    with listener(database_url) as listen:
        with engine.begin() as conn:
            job_id = dispatch(Carry(1), queue="mail", connection=conn)
        notes = list(listen.notifies(timeout=2, stop_after=1))
    assert [n.payload for n in notes] == ["mail"]
    assert row(engine, job_id).queue == "mail"


def test_dispatch_inside_an_orm_session(queue, engine, database_url):
    with listener(database_url) as listen:
        with Session(engine) as session:
            dispatch(Carry(1), connection=session)
            session.rollback()
        assert count(engine, "SELECT count(*) FROM jobs") == 0
        assert list(listen.notifies(timeout=0.5)) == []
        with Session(engine) as session, session.begin():
            dispatch(Carry(2), queue="orm", connection=session)
        assert count(engine, "SELECT count(*) FROM jobs") == 1
        assert [n.payload for n in listen.notifies(timeout=2, stop_after=1)] == ["orm"]


def test_dispatch_without_a_connection_commits_and_notifies_at_once(queue, engine,
                                                                    database_url):
    with listener(database_url) as listen:
        dispatch(Carry(1), queue="now")
        assert [n.payload for n in listen.notifies(timeout=2, stop_after=1)] == ["now"]
    assert count(engine, "SELECT count(*) FROM jobs") == 1


def test_dispatch_many_inserts_ten_thousand_in_one_call(queue, engine, database_url):
    jobs = [Carry({"i": i}) for i in range(10_000)]
    with listener(database_url) as listen:
        started = time.perf_counter()
        ids = dispatch_many(jobs)
        elapsed = time.perf_counter() - started
        notes = [n.payload for n in listen.notifies(timeout=1)]
    print(f"\ndispatch_many: 10,000 jobs in {elapsed:.3f}s = {10_000 / elapsed:,.0f} jobs/s")
    assert len(ids) == 10_000 and ids == sorted(ids) and len(set(ids)) == 10_000
    assert [job.job_id for job in jobs] == ids
    assert count(engine, "SELECT count(*) FROM jobs") == 10_000
    # Both COPY batches in one transaction (one now()), and one wake-up for the queue.
    assert count(engine, "SELECT count(DISTINCT created_at) FROM jobs") == 1
    assert notes == ["default"]
    with engine.connect() as conn:
        first = conn.execute(sa.text("SELECT payload->'data'->'value'->>'i' FROM jobs "
                                     "WHERE id = :id"), {"id": ids[1234]}).scalar_one()
    assert first == "1234"


def test_dispatch_many_stores_what_dispatch_stores_whatever_the_text_holds(queue, engine):
    # dispatch_many writes COPY's text format itself: tabs, newlines and backslashes in the
    # arguments and the queue name must come back as they went in.
    value = {"tab": "a\tb", "lines": "one\ntwo\r\n", "slash": "C:\\dir\\", "quote": '"q"'}
    name = "back\\slash q"
    one, many = Carry(value), Carry(value)
    many.queue = one.queue = name
    single = dispatch(one)
    [bulk] = dispatch_many([many])
    with engine.connect() as conn:
        stored = {id_: (queue_, value_) for id_, queue_, value_ in conn.execute(sa.text(
            "SELECT id, queue, payload->'data'->'value' FROM jobs"))}
    assert stored[bulk] == stored[single] == (name, value)


def test_a_bad_argument_deep_in_dispatch_many_enqueues_nothing(queue, engine):
    # Rows go to the server while later jobs are still being encoded: the bad one, after
    # thousands already sent, must still leave nothing behind.
    jobs = [Carry(i) for i in range(3_000)]
    jobs[2_500] = Carry({1, 2})
    with pytest.raises(TypeError, match="value"):
        dispatch_many(jobs)
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert all(job.job_id is None for job in jobs)
    assert len(dispatch_many(jobs[:2_500])) == 2_500


def test_a_bad_argument_leaves_the_callers_transaction_usable(queue, engine):
    with engine.connect() as conn:
        trans = conn.begin()
        dispatch(Carry(0), connection=conn)
        with pytest.raises(TypeError, match="value"):
            dispatch_many([Carry(1), Carry(object())], connection=conn)
        dispatch_many([Carry(2)], connection=conn)
        trans.commit()
    assert count(engine, "SELECT count(*) FROM jobs") == 2


def test_dispatch_many_of_nothing(queue):
    assert dispatch_many([]) == []


def test_dispatch_many_in_a_rolled_back_transaction(queue, engine):
    with engine.connect() as conn:
        trans = conn.begin()
        dispatch_many([Carry(i) for i in range(10)], connection=conn)
        trans.rollback()
    assert count(engine, "SELECT count(*) FROM jobs") == 0


@pytest.fixture
def calls():
    Counted.calls = []
    return Counted.calls


def test_dispatch_sync_retries_then_succeeds(queue, engine, calls):
    assert dispatch_sync(Counted(fail_first=2)) is None
    assert calls == ["attempt 1", "attempt 2", "attempt 3"]
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_dispatch_sync_raises_the_last_error_after_failed(queue, calls):
    with pytest.raises(RuntimeError, match="failure 3"):
        dispatch_sync(Counted(fail_first=5))
    assert calls == ["attempt 1", "attempt 2", "attempt 3", "failed RuntimeError"]


def test_dispatch_sync_abort_fails_at_once(queue, calls):
    with pytest.raises(Abort):
        dispatch_sync(Counted(abort=True))
    assert calls == ["attempt 1", "failed Abort"]


def test_sync_connection_runs_jobs_at_dispatch(queue, engine, calls, monkeypatch):
    from app.bootstrap import make_context
    from app.queue import context

    monkeypatch.setenv("QUEUE_CONNECTION", "sync")
    context.use(make_context())
    job_id = dispatch(Counted(fail_first=1))
    ULID.from_str(job_id)
    assert calls == ["attempt 1", "attempt 2"]
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_sync_connection_checks_options_like_the_database_one(queue, engine, calls,
                                                              monkeypatch):
    from app.bootstrap import make_context
    from app.queue import context

    monkeypatch.setenv("QUEUE_CONNECTION", "sync")
    context.use(make_context())
    with pytest.raises(ValueError):
        dispatch(Counted(), delay=-5)
    with pytest.raises(TypeError):
        dispatch(Carry({1, 2}))
    assert calls == []
    assert dispatch_many([Counted(), Counted()]) and calls == ["attempt 1", "attempt 1"]
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_dispatch_sync_release_runs_the_job_again(queue):
    Releases.calls = []
    assert dispatch_sync(Releases(releases=1)) is None  # progress() outside a worker: no-op
    assert Releases.calls == ["attempt 1", "attempt 2"]


def test_dispatch_sync_releasing_past_the_last_try_fails(queue):
    Releases.calls = []
    with pytest.raises(MaxAttemptsExceeded, match="3 of 3"):
        dispatch_sync(Releases(releases=99))
    assert Releases.calls == ["attempt 1", "attempt 2", "attempt 3",
                              "failed MaxAttemptsExceeded"]


def test_dispatch_sync_fail_stops_at_once(queue):
    GivesUp.calls = []
    with pytest.raises(Abort, match="nothing to do"):
        dispatch_sync(GivesUp())
    assert GivesUp.calls == ["attempt 1", "failed nothing to do"]


def test_dispatch_sync_runs_async_handlers_with_retries(queue):
    AsyncFlaky.calls = []
    dispatch_sync(AsyncFlaky())
    assert AsyncFlaky.calls == [1, 2]


def test_dispatch_sync_accepts_a_job_class_defined_anywhere(queue):
    class Inline(Counted):
        pass

    Counted.calls = []
    dispatch_sync(Inline())
    assert Counted.calls == ["attempt 1"]


@pytest.mark.parametrize("percent", [-1, 101, float("nan")])
def test_progress_out_of_range_is_an_error(percent):
    with pytest.raises(ValueError, match="progress"):
        Carry(1).progress(percent)


@pytest.mark.parametrize("delay", [float("nan"), float("inf")])
def test_release_needs_a_finite_delay(delay):
    with pytest.raises(ValueError, match="finite"):
        Carry(1).release(delay)


# --------------------------------------------------------- the process's dispatch connection


def dispatch_backends(engine: sa.Engine) -> list[int]:
    """Backends of dispatch's own connection that ran its insert."""
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'skiplock-dispatch' "
            "AND datname = current_database() AND query LIKE 'WITH inserted AS%' "
            "AND pid <> pg_backend_pid()")).scalars())


def test_dispatch_from_many_threads_at_once_loses_nothing(queue, engine):
    # One thread at a time has the dispatch connection; the others use the pool meanwhile.
    def dispatch_some(thread: int) -> list[str]:
        return [dispatch(Carry(thread * 1000 + i)) for i in range(150)]

    with concurrent.futures.ThreadPoolExecutor(8) as threads:
        ids = [id_ for batch in threads.map(dispatch_some, range(8)) for id_ in batch]
    assert len(set(ids)) == 1200
    assert count(engine, "SELECT count(*) FROM jobs") == 1200
    assert count(engine, "SELECT count(DISTINCT payload->'data'->'value') FROM jobs") == 1200


@pytest.fixture
def refusing_trigger(engine):
    """A trigger that refuses jobs of the queue 'refused', counting its calls in a sequence:
    nextval is not undone by the rollback of the refused insert, so the count says how many
    times an insert reached the server."""
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SEQUENCE refuse_calls"))
        conn.execute(sa.text(
            "CREATE FUNCTION refuse_queue() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.queue = 'refused' THEN PERFORM nextval('refuse_calls'); "
            "RAISE EXCEPTION 'queue refused by policy'; END IF; RETURN NEW; END $$"))
        conn.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT ON jobs "
                             "FOR EACH ROW EXECUTE FUNCTION refuse_queue()"))
    yield lambda: count(engine, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
                                "FROM refuse_calls")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER refuse ON jobs"))
        conn.execute(sa.text("DROP FUNCTION refuse_queue()"))
        conn.execute(sa.text("DROP SEQUENCE refuse_calls"))


@pytest.mark.parametrize("path", ["own connection", "pooled connection"])
def test_an_insert_the_server_refuses_is_sent_once_and_raises_its_reason(
        queue, engine, refusing_trigger, path):
    busy = dispatch_connection_busy(queue.store) if path == "pooled connection" \
        else contextlib.nullcontext()
    with busy:
        dispatch(Carry(1))
        with pytest.raises(QueueDatabaseError, match="queue refused by policy") as refused:
            dispatch(Carry(2), queue="refused")
        dispatch(Carry(3))  # the connection is still good
    assert isinstance(refused.value.__cause__, psycopg.errors.RaiseException)
    assert refusing_trigger() == 1  # sent once: its error built from the server's answer
    assert count(engine, "SELECT count(*) FROM jobs") == 2
    assert count(engine, "SELECT count(*) FROM jobs WHERE queue = 'refused'") == 0


@pytest.mark.parametrize("kind", ["Connection", "Session"])
def test_a_refused_dispatch_in_the_callers_transaction_is_a_queue_database_error(
        queue, engine, refusing_trigger, kind):
    with engine.connect() as conn:
        target = Session(bind=conn) if kind == "Session" else conn
        with pytest.raises(QueueDatabaseError, match="queue refused by policy") as refused:
            dispatch(Carry(2), queue="refused", connection=target)
    assert isinstance(refused.value.__cause__, psycopg.errors.RaiseException)
    assert "INSERT" not in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("callers", [False, True])
def test_a_refused_dispatch_many_is_a_queue_database_error(queue, engine, refusing_trigger,
                                                          callers):
    jobs = [Carry(1), Carry(2)]
    for job in jobs:
        job.queue = "refused"
    with pytest.raises(QueueDatabaseError, match="queue refused by policy") as refused:
        if callers:
            with engine.connect() as conn:
                dispatch_many(jobs, connection=conn)
        else:
            dispatch_many(jobs)
    assert isinstance(refused.value.__cause__, psycopg.errors.RaiseException)
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_a_lost_dispatch_connection_is_an_outage_then_replaced(queue, engine):
    dispatch(Carry(1))
    [backend] = dispatch_backends(engine)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    deadline = time.monotonic() + 5
    while backend in dispatch_backends(engine) and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(DatabaseUnavailable, match="cannot connect to database at"):
        dispatch(Carry(2))
    dispatch(Carry(3))
    assert dispatch_backends(engine) != [backend]
    assert sorted(count_values(engine)) == [1, 3]


def test_a_forked_child_dispatches_on_its_own_connection(queue, engine):
    dispatch(Carry(1))
    [parent_backend] = dispatch_backends(engine)
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status
        try:
            dispatch(Carry(2))
            os._exit(0)
        except BaseException:  # noqa: BLE001 - any failure is the exit status
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    dispatch(Carry(3))  # the parent's connection survived the child
    assert parent_backend in dispatch_backends(engine)
    assert sorted(count_values(engine)) == [1, 2, 3]


def pooled_backend(store: JobStore) -> int:
    with store.dispatcher.pooled() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])


def test_a_forked_child_takes_no_pooled_connection_of_its_parent(queue, engine):
    dispatch_many([Carry(1)])  # dispatch_many's transaction is on a connection of dispatch's pool
    parents = pooled_backend(queue.store)
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status
        try:
            dispatch_many([Carry(2)])
            os._exit(0 if pooled_backend(queue.store) != parents else 2)
        except BaseException:  # noqa: BLE001 - any failure is the exit status
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    dispatch_many([Carry(3)])  # the parent's pooled connection survived the child
    assert sorted(count_values(engine)) == [1, 2, 3]


def count_values(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return [int(v) for v in conn.execute(sa.text(
            "SELECT payload->'data'->>'value' FROM jobs")).scalars()]


def test_dispatch_to_a_database_without_the_tables_says_to_migrate(queue, engine, database_url):
    # The dispatch connection prepares its insert when it opens: a schema without the queue
    # tables must say so in one line, with the server's error as its cause, and leave no
    # connection behind.
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS no_tables"))
    url = sa.make_url(database_url).update_query_dict({"options": "-csearch_path=no_tables"})
    bare = sa.create_engine(url)
    try:
        store = JobStore(bare)
        with pytest.raises(SchemaMissing, match=re.escape(
                'the queue tables do not exist in this database (relation "jobs" does not '
                "exist): run `python artisan.py migrate`")) as missing:
            store.insert_job(NewJob("01JOB", "default", '{"job": "x", "data": {}}', 0), 0.0, None)
        assert isinstance(missing.value.__cause__, psycopg.errors.UndefinedTable)
        assert store.dispatcher._conn is None
    finally:
        bare.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA no_tables"))
