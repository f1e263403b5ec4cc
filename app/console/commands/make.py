"""make:job: a new job class in app/jobs/, rendered from a plain-text stub in stubs/."""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.console.cli import cli
from app.console.output import echo
from app.queue.errors import QueueError
from config import BASE_PATH

CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
MAX_NAME = 100
"""Longer class names are a typo, and the file name must fit every filesystem."""
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]+)\s*\}\}")
# Names the stubs themselves import: a job called `Job` would hide its own base class.
RESERVED_NAMES = frozenset({"Job"})


def snake_case(name: str) -> str:
    """SendWelcomeEmail -> send_welcome_email; HTTPClient -> http_client."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def check_name(name: str) -> str:
    """The module name for class `name`, or a QueueError saying why it cannot be one."""
    if len(name) > MAX_NAME or not CLASS_NAME.match(name) or keyword.iskeyword(name):
        raise QueueError(f"invalid job name {name!r}: use a class name in CapWords (letters and "
                         f"digits, at most {MAX_NAME}), like SendWelcomeEmail")
    if name in RESERVED_NAMES:
        raise QueueError(f"invalid job name {name!r}: it would hide the Job base class")
    module = snake_case(name)
    shadowed = shadowed_module(module)
    if shadowed:
        raise QueueError(f"job name {name!r} would make app/jobs/{module}.py, which shadows "
                         f"{shadowed}; choose another name")
    return module


def shadowed_module(module: str) -> str | None:
    """What `module` would be confused with: stdlib, an installed package, or the project's."""
    if module in sys.stdlib_module_names:
        return f"the standard library module {module!r}"
    if (BASE_PATH / "app" / "jobs" / module).is_dir():
        return f"the package app/jobs/{module}/"
    # find_spec of a top-level name only looks at sys.path (project root and site-packages);
    # it imports nothing.
    if importlib.util.find_spec(module) is not None:
        return f"the installed or project module {module!r}"
    return None


def check_overwrite(target: Path, name: str, force: bool) -> None:
    relative = target.relative_to(BASE_PATH)
    if not target.exists():
        return
    if not force:
        raise QueueError(f"{relative} already exists (use --force to overwrite)")
    # --force replaces an older version of this job, never a helper module that happens to
    # have the same name.
    if not re.search(rf"^class {name}\b", target.read_text(errors="replace"), re.MULTILINE):
        raise QueueError(f"{relative} exists and does not define class {name}; "
                         "not overwriting it, even with --force")


def render(stub: Path, values: dict[str, str]) -> str:
    """The stub with each `{{ key }}` replaced; an unknown placeholder is an error."""
    try:
        text = stub.read_text()
    except OSError as exc:
        raise QueueError(f"cannot read the stub {stub.relative_to(BASE_PATH)}: "
                         f"{exc.strerror or exc}") from exc
    unknown = sorted({m.group(1) for m in PLACEHOLDER.finditer(text)} - set(values))
    if unknown:
        raise QueueError(f"{stub.relative_to(BASE_PATH)} uses unknown placeholder(s) "
                         f"{', '.join(unknown)}; known: {', '.join(sorted(values))}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def write(target: Path, text: str, force: bool) -> None:
    relative = target.relative_to(BASE_PATH)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        init = target.parent / "__init__.py"
        if not init.exists():
            init.write_text('"""Your jobs: one class per module (`make:job Name`)."""\n')
        # "x" refuses a file that appeared since the check (another make:job, an editor).
        with target.open("w" if force else "x") as out:
            out.write(text)
    except FileExistsError:
        raise QueueError(f"{relative} already exists (use --force to overwrite)") from None
    except OSError as exc:
        raise QueueError(f"cannot write {relative}: {exc.strerror or exc}") from exc


@cli.command("make:job")
def make_job(
    name: Annotated[str, typer.Argument(help="Class name in CapWords, e.g. SendWelcomeEmail")],
    sync: Annotated[bool, typer.Option(
        "--sync", help="Use stubs/job.sync.stub: a job meant to run inline with "
                       "dispatch_sync() (or QUEUE_CONNECTION=sync), with tries = 1")] = False,
    batched: Annotated[bool, typer.Option(
        "--batched", help="Use stubs/job.batched.stub: a job meant to run in a batch, which "
                          "checks self.batch().cancelled")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite an existing app/jobs/<name>.py of the same class")] = False,
) -> None:
    """Create a job class in app/jobs/<snake_name>.py from stubs/job.stub.

    The stubs are plain text: {{ class }} becomes the class name and {{ module }} its module
    name (snake_case). Edit them to change what new jobs look like. A --sync job is an ordinary
    Job (it can still be queued) whose stub is written for inline use: no retries and no
    queue settings. A --batched job's stub checks whether its batch was cancelled.
    """
    if sync and batched:
        raise QueueError("--sync and --batched do not go together: a batch runs on workers")
    module = check_name(name)
    target = BASE_PATH / "app" / "jobs" / f"{module}.py"
    check_overwrite(target, name, force)
    stub = BASE_PATH / "stubs" / ("job.sync.stub" if sync else
                                  "job.batched.stub" if batched else "job.stub")
    write(target, render(stub, {"class": name, "module": module}), force)
    echo(f"Job [{target.relative_to(BASE_PATH)}] created successfully. A running worker keeps "
         "the code it has loaded: restart it, or use `queue:work --watch`.")
