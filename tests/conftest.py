"""Fixtures: a real PostgreSQL for every test, with clean queue tables.

`TEST_DATABASE_URL` when set; else a `skiplock_test` database (`TEST_DATABASE_NAME` overrides
the name) on the embedded server (the same
server `python artisan.py` uses, so nothing else has to be installed). Worker processes that a
test starts get the same database through `DATABASE_URL` in their environment.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.support import JOB_PACKAGES, TABLES


def _test_url() -> str:
    """The database this test process uses: under pytest-xdist, one per worker process
    (`<name>_gw0`, `<name>_gw1`, …) on the same server, so parallel tests never share tables."""
    from config.database import normalise_url

    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        url = sa.engine.make_url(normalise_url(explicit))
        name = url.database or "postgres"
    else:
        import config.database
        from app.database import start_embedded

        url = sa.engine.make_url(start_embedded(config.database.load().embedded_path))
        name = os.environ.get("TEST_DATABASE_NAME", "skiplock_test")
    xdist_worker = os.environ.get("PYTEST_XDIST_WORKER")
    if xdist_worker:
        name = f"{name}_{xdist_worker}"
    if explicit and not xdist_worker:
        return url.render_as_string(hide_password=False)
    _create_database(url, name)
    return url.set(database=name).render_as_string(hide_password=False)


def _create_database(server: sa.URL, name: str) -> None:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                 {"n": name}).first()
            if found is None:
                with contextlib.suppress(sa.exc.ProgrammingError):  # another worker made it
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = _test_url()
    os.environ["DATABASE_URL"] = url
    os.environ["QUEUE_JOB_PACKAGES"] = JOB_PACKAGES
    from app import database, schema

    database.dispose()
    engine = database.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS ledger, alembic_version CASCADE"))
        for table in TABLES:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    schema.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE ledger (id bigserial PRIMARY KEY, job_id text, tag text, "
            "event text NOT NULL, pid integer, worker text, at timestamptz NOT NULL DEFAULT "
            "clock_timestamp())"))
    yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> sa.Engine:
    from app import database

    return database.engine()


@pytest.fixture
def queue(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Clean tables, and the process's queue context bound to the test database."""
    from app.bootstrap import make_context
    from app.queue import context

    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)}, ledger"))
    monkeypatch.setenv("QUEUE_CONNECTION", "database")
    context.use(None)
    ctx = make_context()
    context.use(ctx)
    yield ctx
    context.use(None)
