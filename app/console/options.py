"""Command-line values checked by the queue core's own rules: a bad one is one line on stderr
and exit 2, as for any other bad option."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from app.queue.names import check_queue_name, parse_queue_list


def usage_error(option: str, message: str) -> NoReturn:
    print(f"error: invalid value for {option}: {message}", file=sys.stderr)
    raise typer.Exit(2)


def queue_name(option: str, value: str) -> str:
    """One queue name, by the rule dispatch applies (app/queue/names.py)."""
    try:
        return check_queue_name(value)
    except ValueError as exc:
        usage_error(option, str(exc))


def optional_queue_name(option: str, value: str | None) -> str | None:
    """None when the option was not given; `--queue ''` is an error, not "every queue"."""
    return None if value is None else queue_name(option, value)


def queue_names(option: str, value: str | None, default: str) -> tuple[str, ...]:
    """`--queue high,default`; `default` when the option was not given."""
    try:
        return parse_queue_list(default if value is None else value)
    except ValueError as exc:
        usage_error(option, str(exc))
