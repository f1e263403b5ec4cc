"""migrate:rollback and the automatic migration of the embedded default, on a scratch
database of the test server (the suite's own tables are not touched)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.database import make_engine
from app.schema import current_revision, ensure_migrated, head_revision
from tests.support import artisan


@pytest.fixture
def scratch_url(database_url: str) -> Iterator[str]:
    url = sa.engine.make_url(database_url)
    name = f"{url.database}_rollback"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_automatic_migration_creates_tables_but_never_undoes_a_rollback(scratch_url):
    engine = make_engine(scratch_url)
    try:
        ensure_migrated(engine)  # what the embedded default does on a process's first use
        head = head_revision()
        assert current_revision(engine) == head
        result = artisan("migrate:rollback", env={"DATABASE_URL": scratch_url})
        assert result.returncode == 0, result.stderr
        rolled_back = current_revision(engine)
        assert rolled_back not in (None, head)
        assert result.stdout.startswith(f"Rolled back: {head} -> {rolled_back}.")
        ensure_migrated(engine)  # the next command: the rollback stays
        assert current_revision(engine) == rolled_back
        work = artisan("queue:work", "--once", env={"DATABASE_URL": scratch_url})
        assert work.returncode == 1 and "run `python artisan.py migrate`" in work.stderr

        while current_revision(engine) is not None:
            assert artisan("migrate:rollback", env={"DATABASE_URL": scratch_url}).returncode == 0
        ensure_migrated(engine)  # a database without tables gets them
        assert current_revision(engine) == head
    finally:
        engine.dispose()
