"""schedule:work, schedule:run, schedule:list, schedule:test (SPEC §11).

The tasks come from `SCHEDULE_MODULE` (default `app/schedule.py`); the ticking and the
exactly-once claim are `app.queue.schedule.scheduler`'s. A command task runs as a child
`python artisan.py …`, its output logged line by line with the task's name.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.console.cli import cli
from app.console.long_waits import watch_long_waits
from app.console.output import echo, markup, print_json, printable

if TYPE_CHECKING:
    from rich.table import Table

    from app.queue.schedule import Task, Timing
    from app.queue.schedule.scheduler import Scheduler
    from app.queue.schedule.store import LastRun


def load_tasks() -> list[tuple[Task, Timing]]:
    """The declared tasks, checked; a command task must name an artisan command."""
    import config.schedule
    from app.queue.schedule import ScheduleError, load

    settings = config.schedule.load()
    tasks = load(settings.module, default_zone=settings.timezone)
    known = set(commands())
    for task, _timing in tasks:
        if task.command is not None and task.arguments()[0] not in known:
            raise ScheduleError(f"scheduled task {task.label!r}: {task.arguments()[0]!r} is not "
                                "an artisan command (python artisan.py --help lists them)")
    return tasks


def commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(cli)
    return list(getattr(group, "commands", {}))


def run_artisan(arguments: Sequence[str], output: Callable[[str], None]) -> int:
    """`python artisan.py ARGUMENTS` in the project root; each output line to `output`."""
    from config import BASE_PATH

    with subprocess.Popen([sys.executable, str(BASE_PATH / "artisan.py"), *arguments],
                          cwd=BASE_PATH, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True, errors="replace") as child:
        assert child.stdout is not None
        for line in child.stdout:
            output(line.rstrip("\n"))
        return child.wait()


def log_line(text: str) -> None:
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    print(f"  {now} SCHEDULE {printable(text)}", file=sys.stderr, flush=True)


def scheduler(tasks: list[tuple[Task, Timing]]) -> Scheduler:
    from app.queue import context
    from app.queue.schedule.scheduler import Scheduler
    from app.schema import require_current

    engine = context.current().store.engine
    require_current(engine)
    return Scheduler(tasks, engine, run_artisan, f"{socket.gethostname()}:{os.getpid()}",
                     log=log_line)


@cli.command("schedule:work")
def work() -> None:
    """Run the scheduler: tick each second, enqueue each due run once across all schedulers."""
    from app.queue.errors import DatabaseUnavailable

    ticker = scheduler(load_tasks())
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    watch_long_waits(stop, log_line)  # QUEUE_WAIT_THRESHOLDS, in a thread of its own
    log_line(f"running {len(ticker.tasks)} task(s); Ctrl-C stops")
    down_since: float | None = None
    while not stop.is_set():
        try:
            ticker.tick()
            if down_since is not None:
                log_line(f"the database answers again after {time.monotonic() - down_since:.1f}s")
                down_since = None
        except DatabaseUnavailable as exc:
            if down_since is None:
                down_since = time.monotonic()
                log_line(f"{exc}; retrying each second")
        # Tick just after each whole second, when second-granular runs fall due.
        stop.wait(1.0 - time.time() % 1.0 + 0.005)
    if ticker.running_commands:
        log_line(f"waiting for {ticker.running_commands} running command(s) to finish")
    ticker.wait_for_commands()
    log_line("stopped")


@cli.command("schedule:run")
def run() -> None:
    """Run one tick (for system cron, each minute): enqueue what is due now, run due commands."""
    ticker = scheduler(load_tasks())
    runs = ticker.tick()
    ticker.wait_for_commands()
    if not runs:
        echo("No scheduled tasks are due.")


@cli.command("schedule:list")
def list_tasks(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON only")] = False,
) -> None:
    """List the scheduled tasks: expression, time zone, next due, last run."""
    from app.queue import context
    from app.queue.schedule.store import ScheduleStore

    tasks = load_tasks()
    store = ScheduleStore(context.current().store.engine)
    now = store.now()
    last = store.last_runs([task.label for task, _timing in tasks])
    rows = [task_row(task, timing, now, last.get(task.label)) for task, timing in tasks]
    warn_if_no_scheduler(tasks, last, now)
    if json_output:
        print_json(rows)
    elif not rows:
        echo("No scheduled tasks (declare them in app/schedule.py).")
    else:
        print_tasks([task_cells(task, timing, now, last.get(task.label))
                     for task, timing in tasks])


COLUMNS = ("Task", "Kind", "Expression", "Time zone", "Next due", "Last run")


def shown_time(value: dt.datetime, zone: dt.tzinfo) -> str:
    """A due time in the task's zone (its own column), to the second: a run of schedule:test
    is keyed by the clock's microseconds, which say nothing to a reader."""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def task_cells(task: Task, timing: Timing, now: dt.datetime,
               last: LastRun | None) -> dict[str, str]:
    return {"Task": task.label, "Kind": task.kind, "Expression": task.describe(),
            "Time zone": task.zone_name,
            "Next due": shown_time(timing.next_due(now), timing.zone),
            "Last run": shown_time(last.due_at, timing.zone) if last is not None else "-"}


def print_tasks(rows: Sequence[dict[str, str]]) -> None:
    """One line per task when every column fits; on a narrow screen (80 columns), its kind,
    expression and zone go on a line of their own under it: no time is ever wrapped."""
    from app.console.format import aligned, fits, indented
    from app.console.output import console

    width = console().width
    if fits(rows, COLUMNS, width):
        console().print(tasks_table(rows))
        return
    columns = ("Task", "Next due", "Last run")
    header, *lines = aligned([columns, *([row[title] for title in columns] for row in rows)])
    echo(header)
    for row, line in zip(rows, lines, strict=True):
        echo(line)
        echo(indented(f"{row['Kind']}: {row['Expression']} ({row['Time zone']})", width))


def tasks_table(rows: Sequence[dict[str, str]]) -> Table:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in COLUMNS:
        table.add_column(column, overflow="fold", no_wrap=column in ("Next due", "Last run"))
    for row in rows:
        table.add_row(*(markup(row[column]) for column in COLUMNS))
    return table


def warn_if_no_scheduler(tasks: list[tuple[Task, Timing]], last: dict[str, LastRun],
                         now: dt.datetime) -> None:
    """A warning on stderr when a run fell due that no scheduler claimed (see
    app/queue/schedule/health.py): the tasks are declared, but nothing runs them."""
    from app.console.output import print_warning
    from app.queue.schedule.health import missed_run

    missed = missed_run(tasks, last, now)
    if missed is not None:
        print_warning(f"no scheduler seems to be running: {missed.task!r} was due at "
                      f"{missed.due_at.astimezone():%Y-%m-%d %H:%M:%S %Z} and no scheduler has "
                      "claimed that run (run `python artisan.py schedule:work`, or "
                      "`schedule:run` from cron each minute)")


def task_row(task: Task, timing: Timing, now: dt.datetime, last: Any) -> dict[str, Any]:
    return {
        "task": task.label,
        "kind": task.kind,
        "target": type(task.job).__qualname__ if task.job is not None else task.command,
        "queue": task.queue,
        "expression": task.describe(),
        "timezone": task.zone_name,
        "next_due": timing.next_due(now).astimezone(timing.zone).isoformat(),
        "without_overlapping": not task.overlapping_allowed,
        "last_run": None if last is None else {
            "due_at": last.due_at.astimezone(timing.zone).isoformat(),
            "job_id": last.job_id,
            "finished_at": last.finished_at.isoformat() if last.finished_at else None,
            "exit_code": last.exit_code,
        },
    }


@cli.command("schedule:test")
def test(name: Annotated[str | None, typer.Argument(help="The task's name")] = None) -> None:
    """Run one scheduled task now, whatever its frequency (schedule:list shows the names)."""
    from app.queue.schedule import ScheduleError

    tasks = load_tasks()
    names = [task.label for task, _timing in tasks]
    if name is None:
        if len(tasks) != 1:
            raise ScheduleError("name the task to run: " + (", ".join(names) or "none declared"))
        name = names[0]
    task = next((task for task, _timing in tasks if task.label == name), None)
    if task is None:
        raise ScheduleError(f"no scheduled task is named {name!r}; there are: "
                            + (", ".join(names) or "none"))
    ticker = scheduler(tasks)
    done = ticker.run_now(task)
    ticker.wait_for_commands()
    code = ticker.exit_codes.get((done.task, done.due_at), 0)
    if code != 0:
        raise typer.Exit(code)
