"""Fixtures: a real PostgreSQL for every test, with clean queue tables.

`TEST_DATABASE_URL` when set; else a `skiplock_test` database (`TEST_DATABASE_NAME` overrides
the name) on the embedded server (the same
server `python artisan.py` uses, so nothing else has to be installed). Worker processes that a
test starts get the same database through `DATABASE_URL` in their environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.support import JOB_PACKAGES, TABLES


def _test_url() -> str:
    from config.database import normalise_url

    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return normalise_url(explicit)
    import config.database
    from app.database import start_embedded

    name = os.environ.get("TEST_DATABASE_NAME", "skiplock_test")
    url = sa.engine.make_url(start_embedded(config.database.load().embedded_path))
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


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
