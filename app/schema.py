"""Alembic from code: `migrate`, `migrate:status`, `migrate:rollback`, and auto-create.

Alembic (with Mako and Pygments, 9 MB of a worker's memory) is imported only by the commands
that migrate. Checking that the tables are current, which every worker does at start, needs
neither: the database's revision is one row of `alembic_version`, and the code's is read from
the migration files' `revision` lines (tests/unit/test_schema_revisions.py and
tests/integration/test_database.py hold both to what Alembic itself reads).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.queue.connections.database.errors import MIGRATE, translated_errors
from app.queue.errors import SchemaMissing
from config import BASE_PATH

if TYPE_CHECKING:
    from alembic.config import Config

VERSIONS = BASE_PATH / "migrations" / "versions"
VERSION_TABLE = sa.table("alembic_version", sa.column("version_num"))
_REVISION_LINE = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*['"]?(\w+)['"]?""",
                            re.MULTILINE)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(BASE_PATH / "migrations"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest migration's revision: the one no other migration names as its down_revision
    (the history is one line, as Alembic's own head check assumes here)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        for key, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (revisions if key == "revision" else downs).add(value)
    heads = sorted(revisions - downs)
    if len(heads) > 1:
        raise SchemaMissing(f"the migrations have several heads ({', '.join(heads)})")
    return heads[0] if heads else None


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at: None without tables (or after the last rollback)."""
    with translated_errors(engine.url), engine.connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE.name):
            return None
        return conn.execute(sa.select(VERSION_TABLE.c.version_num)).scalar_one_or_none()


def upgrade(engine: Engine, target: str = "head") -> None:
    from alembic import command

    with translated_errors(engine.url), engine.connect() as conn:
        command.upgrade(alembic_config(conn), target)


def downgrade(engine: Engine, target: str = "-1") -> None:
    from alembic import command

    with translated_errors(engine.url), engine.connect() as conn:
        command.downgrade(alembic_config(conn), target)


def require_current(engine: Engine) -> None:
    """Refuse to work on tables older (or newer) than this code: say how to fix it."""
    current, head = current_revision(engine), head_revision()
    if current is None:
        raise SchemaMissing(f"the queue tables do not exist in this database: {MIGRATE}")
    if current != head:
        raise SchemaMissing(
            f"the queue tables are at revision {current}, this code needs {head}: {MIGRATE}")


def ensure_migrated(engine: Engine) -> None:
    """Create the tables in a database that has none (the embedded default needs no `migrate`).

    A database at an older revision is left as it is: it may be where `migrate:rollback` put
    it, and upgrading it on the next command would silently undo that. `queue:work` then says
    to run `migrate`.
    """
    if current_revision(engine) is None:
        upgrade(engine)
