"""Command modules; importing this package registers every command on the CLI."""

from app.console.commands import (  # noqa: F401
    bench,
    dashboard,
    database,
    inspect,
    key,
    make,
    schedule,
    work,
)
