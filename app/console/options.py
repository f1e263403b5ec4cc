"""What the operating commands share: their common options, the checks of option values (queue
names by the queue core's own rule), and the QueueAdmin they query (imported when a command runs:
SQLAlchemy is not needed for --help)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import typer

from app.console.output import bad_option
from app.queue.names import check_queue_name, parse_queue_list

if TYPE_CHECKING:
    from app.queue.admin import QueueAdmin

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON only (docs/cli-json.md)")]
QueueOption = Annotated[str | None, typer.Option("--queue", help="Only this queue")]


def check_at_least(option: str, value: float | None, least: float) -> None:
    if value is not None and not (math.isfinite(value) and value >= least):
        bad_option(option, f"must be a number of {least:g} or more, not {value:g}")


def queue_name(option: str, value: str) -> str:
    """One queue name, by the rule dispatch applies (app/queue/names.py)."""
    try:
        return check_queue_name(value)
    except ValueError as exc:
        bad_option(option, str(exc))


def optional_queue_name(option: str, value: str | None) -> str | None:
    """None when the option was not given; `--queue ''` is an error, not "every queue"."""
    return None if value is None else queue_name(option, value)


def queue_names(option: str, value: str | None, default: str) -> tuple[str, ...]:
    """`--queue high,default`; `default` when the option was not given."""
    try:
        return parse_queue_list(default if value is None else value)
    except ValueError as exc:
        bad_option(option, str(exc))


def queue_admin() -> QueueAdmin:
    from app.queue import context
    from app.queue.admin import QueueAdmin

    return QueueAdmin(context.current().store.engine)
