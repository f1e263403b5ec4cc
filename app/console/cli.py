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
    # Wide enough that `--help` shows each command's whole first sentence.
    context_settings={"terminal_width": 110, "max_content_width": 110},
)
