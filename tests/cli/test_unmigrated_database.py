"""A database that was never migrated (`CREATE DATABASE x`, then the commands as a new user
types them): every command says in one line to run `python artisan.py migrate`, and
dispatch() raises that as a QueueDatabaseError, instead of a SQLAlchemy traceback."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from app.bootstrap import queue_settings
from app.queue import context, dispatch, dispatch_many
from app.queue.context import QueueContext
from app.queue.errors import QueueDatabaseError, SchemaMissing
from tests.jobs.basic import Record
from tests.support import artisan

MIGRATE_LINE = (r'error: the queue tables do not exist in this database( \(relation "\w+" '
                r"does not exist\))?: run `python artisan.py migrate`")
"""The table the server named, when a statement found it missing (a check of the schema's
revision, as queue:work makes first, names none)."""


@pytest.fixture(scope="module")
def bare_url(engine: sa.Engine) -> Iterator[str]:
    """A scratch database beside the test database, with no queue tables; dropped after."""
    name = f"{engine.url.database}_unmigrated"
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield engine.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.parametrize("command", [
    "queue:status", "queue:status --json", "queue:failed", "queue:job 01JNOSUCHJOB",
    "queue:workers", "queue:pause emails", "queue:resume emails", "queue:clear --force",
    "queue:retry 01JNOSUCHJOB", "queue:retry all", "queue:retry-failed",
    "queue:forget 01JNOSUCHJOB", "queue:flush", "queue:clear-failed", "queue:prune-failed",
    "queue:restart", "queue:work --stop-when-empty --max-time 20", "queue:bench --jobs 10",
])
def test_every_command_says_to_migrate_in_one_line(bare_url: str, command: str) -> None:
    result = artisan(*command.split(), env={"DATABASE_URL": bare_url})
    assert result.returncode != 0
    assert re.fullmatch(MIGRATE_LINE, result.stderr.strip()), result.stderr
    assert result.stdout == ""


def test_dispatch_before_migrate_is_a_queue_database_error(bare_url: str) -> None:
    bare = sa.create_engine(bare_url)
    context.use(QueueContext(settings=queue_settings(), engine_factory=lambda: bare))
    try:
        for send in (lambda: dispatch(Record("a")), lambda: dispatch_many([Record("b")])):
            with pytest.raises(SchemaMissing, match=MIGRATE_LINE[7:]) as missing:
                send()
            assert isinstance(missing.value, QueueDatabaseError)
            assert isinstance(missing.value.__cause__, psycopg.errors.UndefinedTable)
    finally:
        context.use(None)
        bare.dispose()
