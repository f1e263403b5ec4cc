"""Console output shared by the commands: plain lines, JSON, rich tables, and the one way a
command reports an error."""

from __future__ import annotations

import json
import re
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


# C0 and C1 controls (ESC starts colours, titles, OSC 8 links, cursor moves; CSI is \x9b), DEL,
# and the bidirectional overrides and isolates that make a terminal show text in another order
# than it is stored.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_CONTROL_BUT_LINES = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, lines: bool = False) -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\u202e`): what a job's
    error, class, arguments or a row's values hold reaches the terminal as text, never as a
    sequence the terminal acts on. With `lines`, newlines and tabs are kept (a traceback);
    without, the text stays on one line (a table cell, an error line). The one gate between
    stored text and the terminal: every command's output passes it (markup() for rich)."""
    return (_CONTROL_BUT_LINES if lines else _CONTROL).sub(_escaped, text)


def markup(text: str, lines: bool = False) -> str:
    """printable(text) for a rich string: its brackets escaped too, so that stored text is
    never read as rich markup either."""
    from rich.markup import escape  # after the first call, a lookup in sys.modules

    return escape(printable(text, lines))


def echo(text: str) -> None:
    typer.echo(printable(text, lines=True))


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
    print(f"error: {printable(message)}", file=sys.stderr)


def print_warning(message: str) -> None:
    """`warning: …` on stderr: the command did what it was asked, but something looks wrong."""
    print(f"warning: {printable(message)}", file=sys.stderr)


def fail(message: str, code: int = ERROR) -> NoReturn:
    """Report an error and exit with `code`: the one way a command (or the kernel) fails."""
    print_error(message)
    sys.exit(code)


def bad_option(option: str, message: str) -> NoReturn:
    fail(f"invalid value for {option}: {message}", code=USAGE)


def error_line(exc: BaseException) -> str:
    """The one line an error leaves as (the kernel's, and a command's warning)."""
    return str(exc) or type(exc).__name__
