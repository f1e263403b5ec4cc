"""Console output shared by the commands: plain lines, JSON, rich tables, and the one way a
command reports an error."""

from __future__ import annotations

import json
import sys
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

ERROR = 1
"""Exit code of a command that could not do what it was asked."""
USAGE = 2
"""Exit code of a command given a bad option or argument (click's own code for these)."""


def echo(text: str) -> None:
    typer.echo(text)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


# rich costs ~30 ms to import: built on first use, so `--help` and plain-text commands skip it.
@cache
def console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


@cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def print_error(message: str) -> None:
    """`error: …` on stderr: one line whatever went wrong (the kernel adds a traceback only
    with --verbose)."""
    print(f"error: {message}", file=sys.stderr)


def print_warning(message: str) -> None:
    """`warning: …` on stderr: the command did what it was asked, but something looks wrong."""
    print(f"warning: {message}", file=sys.stderr)


def fail(message: str, code: int = ERROR) -> NoReturn:
    """Report an error and exit with `code`: the one way a command (or the kernel) fails."""
    print_error(message)
    sys.exit(code)


def bad_option(option: str, message: str) -> NoReturn:
    fail(f"invalid value for {option}: {message}", code=USAGE)
