"""Entry point of `python artisan.py …` and the `artisan` script: errors become one line."""

from __future__ import annotations

import sys
import traceback

from app.console import commands  # noqa: F401 - registers every command on `cli`
from app.console.cli import cli
from app.queue.errors import QueueError
from config import ConfigError


def error_line(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args
    if verbose:
        args.remove("--verbose")
    try:
        cli(args=args, prog_name="artisan")
    except (QueueError, ConfigError) as exc:
        if verbose:
            traceback.print_exc()
        print(f"error: {error_line(exc)}", file=sys.stderr)
        sys.exit(1)
