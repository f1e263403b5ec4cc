"""make:job: a new job class from stubs/job.stub."""

from __future__ import annotations

import keyword
import re
import sys
from typing import Annotated

import typer

from app.console.cli import cli
from app.console.output import echo
from app.queue.errors import QueueError
from config import BASE_PATH

CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def snake_case(name: str) -> str:
    """SendWelcomeEmail -> send_welcome_email; HTTPClient -> http_client."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def check_name(name: str) -> str:
    """The module name for class `name`, or a QueueError saying why it cannot be one."""
    if not CLASS_NAME.match(name) or keyword.iskeyword(name):
        raise QueueError(f"invalid job name {name!r}: use a class name in CapWords, "
                         "like SendWelcomeEmail")
    module = snake_case(name)
    if module in sys.stdlib_module_names or module in ("app", "config", "tests"):
        raise QueueError(f"job name {name!r} would make module app/jobs/{module}.py, "
                         f"which shadows the module {module!r}; choose another name")
    return module


@cli.command("make:job")
def make_job(
    name: Annotated[str, typer.Argument(help="Class name, e.g. SendWelcomeEmail")],
    sync: Annotated[bool, typer.Option("--sync", help="A job for dispatch_sync (inline)")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
) -> None:
    """Create a new job class in app/jobs/ from stubs/job.stub."""
    module = check_name(name)
    target = BASE_PATH / "app" / "jobs" / f"{module}.py"
    if target.exists() and not force:
        raise QueueError(f"app/jobs/{module}.py already exists (use --force to overwrite)")
    stub = BASE_PATH / "stubs" / ("job.sync.stub" if sync else "job.stub")
    target.write_text(stub.read_text().replace("{{ class }}", name))
    echo(f"Job [app/jobs/{module}.py] created successfully.")
