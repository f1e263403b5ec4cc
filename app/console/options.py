"""What the operating commands share: their common options, the checks of option values (queue
names by the queue core's own rule), and the QueueAdmin they query (imported when a command runs:
SQLAlchemy is not needed for --help)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import typer

from app.console.output import bad_option
from app.queue.names import check_queue_name, parse_queue_list
from app.queue.settings import MAX_DELAY

if TYPE_CHECKING:
    from app.queue.admin import QueueAdmin

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON only (docs/cli-json.md)")]
QueueOption = Annotated[str | None, typer.Option("--queue", help="Only this queue")]


MAX_COUNT = 2**31 - 1
"""The most any count option takes (a --limit, --max, --concurrency …): past it a value is a
typo, and PostgreSQL's bigint (a LIMIT, an OFFSET of page x limit) would refuse it."""
MAX_SECONDS = MAX_DELAY
"""The most any duration option takes: 100 years, the longest delay dispatch accepts (a
longer interval takes now() past the timestamps PostgreSQL can store)."""
MAX_HOURS = MAX_DELAY / 3600


def shown(value: float) -> str:
    if isinstance(value, float) and not (value.is_integer() and abs(value) < 1e15):
        return f"{value:g}"
    return f"{int(value):,}"


def check_range(option: str, value: float | None, least: float, most: float,
                unit: str = "") -> None:
    """A bad-option line (exit 2) for a value outside least..most, NaN and infinity included:
    caught here, an absurd number never reaches the database as a statement it refuses."""
    if value is not None and not (math.isfinite(value) and least <= value <= most):
        bad_option(option, f"must be a number{unit} from {shown(least)} to {shown(most)}, "
                           f"not {shown(value)}")


def check_count(option: str, value: int | None, least: int = 0) -> None:
    check_range(option, value, least, MAX_COUNT)


def check_seconds(option: str, value: float | None, least: float = 0) -> None:
    check_range(option, value, least, MAX_SECONDS, " of seconds")


def check_hours(option: str, value: float | None) -> None:
    check_range(option, value, 0, MAX_HOURS, " of hours")


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
