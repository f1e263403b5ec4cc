"""Command modules, one per area; importing this package registers every command on the CLI.

Each module imports only light things at its top (typer, the console helpers): what a command
needs to run (SQLAlchemy, psycopg, Alembic, rich tables) is imported inside it, so `--help` and
each command load only their own share (tests/cli/test_console.py checks it).
"""

from app.console.commands import (  # noqa: F401
    batches,
    bench,
    dashboard,
    database,
    failed,
    jobs,
    key,
    make,
    queues,
    schedule,
    supervise,
    work,
    workers,
)
