"""The Typer application every command module adds its commands to, and its `--help`."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup

from app.console.scalars import convert_plain_options

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter, Parameter


def namespace(command: str) -> str:
    """`queue:work` -> `queue`; a plain `migrate` heads its own namespace, as in Laravel."""
    return command.partition(":")[0]


class ArtisanGroup(TyperGroup):
    """Lists the commands as Laravel's `artisan list` does: under their namespace (db, make,
    migrate, queue …), alphabetical in each, names aligned across groups; plain options are
    converted without pydantic (app/console/scalars.py)."""

    def list_commands(self, ctx: Context) -> list[str]:
        return sorted(self.commands)

    def get_params(self, ctx: Context) -> list[Parameter]:
        params = super().get_params(ctx)
        convert_plain_options(params)
        return params

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            # With the group's context: the help option it makes and keeps is the one the
            # command's own context would make (our commands set no help option names).
            convert_plain_options(command.get_params(ctx))
        return command

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        shown = [(name, command) for name in self.list_commands(ctx)
                 if not (command := self.commands[name]).hidden]
        if not shown:
            return
        width = max(len(name) for name, _ in shown)
        limit = formatter.width - width - 6
        with formatter.section("Commands"):
            for group, members in itertools.groupby(shown, key=lambda row: namespace(row[0])):
                formatter.write(f"{'':>{formatter.current_indent - 1}}{group}\n")
                for name, command in members:
                    formatter.write(f"{'':>{formatter.current_indent}}{name:<{width}}  "
                                    f"{command.get_short_help_str(limit)}\n")


cli = typer.Typer(
    name="artisan",
    cls=ArtisanGroup,
    help="Skiplock: Laravel-style background jobs on PostgreSQL.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # Wide enough that `--help` shows each command's whole first sentence.
    context_settings={"terminal_width": 110, "max_content_width": 110},
)
