"""Entry point of `python artisan.py …` and the `artisan` script: errors become one line.

Every error leaves the same way, through `output.fail`: `error: …` on stderr, exit 1 for an
error and 2 for a bad option or argument (click's usage errors included), no traceback unless
`--verbose`. Only the console's own modules are imported here: a command imports what it needs
when it runs, so `--help` loads neither SQLAlchemy, psycopg nor Alembic.
"""

from __future__ import annotations

import sys
import traceback

from typer import Abort
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from app.console import commands  # noqa: F401 - registers every command on `cli`
from app.console.cli import cli
from app.console.output import USAGE, echo, error_line, fail
from app.queue.errors import QueueError
from config import ConfigError


def usage_line(exc: UsageError) -> str:
    """click's message, and where to read the usage: `… (see artisan queue:failed --help)`."""
    where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
    return f"{exc.format_message()}{where}"


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args
    if verbose:
        args.remove("--verbose")
    try:
        code = cli(args=args, prog_name="artisan", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # `artisan` alone lists the commands, as `php artisan` does
        echo(exc.ctx.get_help() if exc.ctx is not None else "")
        sys.exit(0)
    except UsageError as exc:
        fail(usage_line(exc), exc.exit_code or USAGE)
    except ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except Abort:
        fail("aborted")
    except (QueueError, ConfigError) as exc:
        if verbose:
            traceback.print_exc()
        fail(error_line(exc))
    # Without standalone mode click returns what the command returned (None), or the code of
    # a typer.Exit it raised.
    sys.exit(code if isinstance(code, int) else 0)
