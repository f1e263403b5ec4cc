"""migrate, migrate:status, migrate:rollback, db:stop. Alembic is imported when one runs."""

from __future__ import annotations

import typer

import config.database
from app.console.cli import cli
from app.console.output import echo


@cli.command("migrate")
def migrate() -> None:
    """Create or update the queue tables (Alembic upgrade to head; safe to run twice)."""
    from app import schema
    from app.database import engine

    before = schema.current_revision(engine())
    schema.upgrade(engine())
    after = schema.current_revision(engine())
    echo("Nothing to migrate." if before == after else f"Migrated: {before or 'empty'} -> {after}.")


@cli.command("migrate:status")
def migrate_status() -> None:
    """Show the schema revision of the database and the latest one."""
    from app import schema
    from app.database import engine

    current = schema.current_revision(engine())
    head = schema.head_revision()
    state = "up to date" if current == head else "behind: run `python artisan.py migrate`"
    echo(f"Current revision: {current or 'none'}\nLatest revision:  {head}\nStatus: {state}")


@cli.command("migrate:rollback")
def migrate_rollback() -> None:
    """Undo the last migration (Alembic downgrade one step)."""
    from app import schema
    from app.database import engine

    before = schema.current_revision(engine())
    if before is None:
        echo("Nothing to roll back.")
        return
    schema.downgrade(engine())
    after = schema.current_revision(engine())
    echo(f"Rolled back: {before} -> {after or 'empty'}.")
    if after is None and config.database.load().url is None:
        # The embedded default creates the tables in a database that has none (and only then:
        # a partial rollback stays as it is).
        echo("The embedded database gets its tables again on the next command that uses it.")


@cli.command("db:stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server (data stays in storage/database/)."""
    from app.database import stop_embedded

    settings = config.database.load()
    if settings.url is not None:
        echo("DATABASE_URL is set: there is no embedded server to stop.")
        raise typer.Exit(0)
    stopped = stop_embedded(settings.embedded_path)
    echo("Embedded PostgreSQL stopped." if stopped else "Embedded PostgreSQL was not running.")
