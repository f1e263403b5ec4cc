"""What the operating commands share: their common options, the checks of option values, and
the QueueAdmin they query (imported when a command runs: SQLAlchemy is not needed for --help)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import typer

from app.console.output import bad_option

if TYPE_CHECKING:
    from app.queue.admin import QueueAdmin

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON only (docs/cli-json.md)")]
QueueOption = Annotated[str | None, typer.Option("--queue", help="Only this queue")]


def check_at_least(option: str, value: float | None, least: float) -> None:
    if value is not None and not (math.isfinite(value) and value >= least):
        bad_option(option, f"must be a number of {least:g} or more, not {value:g}")


def queue_admin() -> QueueAdmin:
    from app.queue import context
    from app.queue.admin import QueueAdmin

    return QueueAdmin(context.current().store.engine)
