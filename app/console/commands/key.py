"""key:generate: a new APP_KEY (for encrypted jobs), written to `.env` (Laravel's command)."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from app.console.cli import cli
from app.console.output import echo

APP_KEY_LINE = re.compile(r"^[ \t]*(export[ \t]+)?APP_KEY[ \t]*=.*$", re.MULTILINE)


@cli.command("key:generate")
def generate(
    show: Annotated[bool, typer.Option("--show", help="Print the key; change nothing")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an APP_KEY already set")] = False,
) -> None:
    """Make a new APP_KEY and write it to .env (jobs encrypted with the old key then need it
    in APP_PREVIOUS_KEYS)."""
    from app.queue.crypto import generate_key
    from app.queue.errors import QueueError
    from config import BASE_PATH

    key = generate_key()
    if show:
        echo(key)
        return
    path = BASE_PATH / ".env"
    text = path.read_text() if path.exists() else ""
    current = APP_KEY_LINE.search(text)
    if current is not None and current.group(0).split("=", 1)[1].strip() and not force:
        raise QueueError(".env already sets APP_KEY: --force replaces it (then put the old key "
                         "in APP_PREVIOUS_KEYS, or jobs encrypted with it cannot be read)")
    line = f"APP_KEY={key}"
    if current is not None:
        text = text[:current.start()] + line + text[current.end():]
    else:
        text = text + ("" if not text or text.endswith("\n") else "\n") + line + "\n"
    path.write_text(text)
    echo("Application key set in .env.")
