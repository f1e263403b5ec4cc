"""The Typer application every command module adds its commands to."""

from __future__ import annotations

import typer

cli = typer.Typer(
    name="artisan",
    help="Skiplock: Laravel-style background jobs on PostgreSQL.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
