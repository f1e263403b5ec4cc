"""Alembic from code: `migrate`, `migrate:status`, `migrate:rollback`, and auto-create."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from app.queue.db.errors import MIGRATE, translated_errors
from app.queue.errors import SchemaMissing
from config import BASE_PATH


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(BASE_PATH / "migrations"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with translated_errors(engine.url), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> None:
    with translated_errors(engine.url), engine.connect() as conn:
        command.upgrade(alembic_config(conn), target)


def downgrade(engine: Engine, target: str = "-1") -> None:
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
