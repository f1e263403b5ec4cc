"""queue:work: the worker process."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
from functools import cached_property
from typing import TYPE_CHECKING, Annotated

import typer

from app.console.cli import cli
from app.console.job_logs import log_jobs_to_stderr
from app.console.job_output import keep_lines_whole
from app.console.options import check_count, check_seconds, queue_names
from app.console.output import bad_option, markup
from app.queue import context, process

if TYPE_CHECKING:
    from rich.console import Console

    from app.queue.worker import JobEvent

STATE_STYLE = {"RUNNING": "yellow", "DONE": "green", "RETRY": "yellow", "LIMITED": "cyan",
               "FAIL": "red"}
JSON_EVENTS = {"RUNNING": "JobProcessing", "DONE": "JobProcessed", "RETRY": "JobReleased",
               "LIMITED": "JobReleased", "FAIL": "JobFailed"}
"""--json: the event of app.queue.events each worker line stands for."""


class WorkReporter:
    """One line per job, as Laravel's queue:work prints them: time, class, id, state. Written
    through the worker's own copies of stdout and stderr, which no job can close.

    rich (1.5 MB of the worker's memory, 40 modules) is imported on the first line it styles:
    a `--quiet` or `--json` worker, which prints none until it stops, never holds it idle."""

    def __init__(self, quiet: bool, as_json: bool = False) -> None:
        self.quiet = quiet
        self.as_json = as_json
        self.out = process.own_stream(1)
        self.err = process.own_stream(2)

    @cached_property
    def console(self) -> Console:
        from rich.console import Console

        return Console(file=self.out, highlight=False, soft_wrap=True)

    @cached_property
    def errors(self) -> Console:
        from rich.console import Console

        return Console(file=self.err, highlight=False, soft_wrap=True)

    def job(self, event: JobEvent) -> None:
        if self.quiet:
            return
        if self.as_json:
            return self.json_line(event)

        now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        took = f"{event.duration * 1000:,.2f}ms " if event.duration is not None else ""
        style = STATE_STYLE.get(event.state, "white")
        line = (f"  {now} {markup(event.class_name)} [dim]{markup(event.job_id)}[/dim] "
                f"{took}[bold {style}]{event.state}[/]")
        if event.detail and event.state != "DONE":
            line += f" [dim]{markup(event.detail)}[/dim]"
        self.console.print(line)

    def json_line(self, event: JobEvent) -> None:
        """One object per line, for log shippers (Laravel 11's queue:work --json)."""
        line = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "event": JSON_EVENTS.get(event.state, event.state), "job_id": event.job_id,
                "class": event.class_name, "queue": event.queue, "attempt": event.attempt,
                "status": event.state, "duration": event.duration, "error": event.detail}
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()

    def log(self, text: str) -> None:

        now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self.errors.print(f"  {now} [bold]WORKER[/] {markup(text)}")


def check_work_options(counts: dict[str, int | None], seconds: dict[str, float | None],
                       max_time: float | None) -> None:
    """Each count from 1 and each duration from 0 (both within the bounds of every numeric
    option, app/console/options.py); --max-time more than 0."""
    for option, value in counts.items():
        check_count(option, value, least=1)
    for option, value in seconds.items():
        check_seconds(option, value)
    check_seconds("--max-time", max_time)
    if max_time == 0:
        bad_option("--max-time", "must be more than 0")


@cli.command("queue:work")
def work(
    queue: Annotated[str | None, typer.Option(help="Queues, first first: high,default")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Jobs at once in this process")] = None,
    sleep: Annotated[float, typer.Option(help="Seconds between polls when idle (fallback)")] = 3.0,
    tries: Annotated[int | None, typer.Option(help="Attempts for jobs that set none")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds for jobs that set none")] = None,
    backoff: Annotated[float | None, typer.Option(help="Retry delay, jobs that set none")] = None,
    memory: Annotated[int | None, typer.Option(help="Exit after a job once RSS exceeds MB")] = None,
    max_jobs: Annotated[int | None, typer.Option(help="Exit after this many jobs")] = None,
    max_time: Annotated[float | None, typer.Option(help="Exit after this many seconds")] = None,
    stop_when_empty: Annotated[bool, typer.Option(help="Exit when the queues are empty")] = False,
    once: Annotated[bool, typer.Option(help="Process one job, then exit")] = False,
    rest: Annotated[float, typer.Option(help="Seconds to rest between jobs")] = 0.0,
    name: Annotated[str | None, typer.Option(
        help="Name shown by queue:workers (default HOST-PID)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No line per job")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per job event on stdout (logs and what jobs print go "
                       "to stderr)")] = False,
    watch: Annotated[bool, typer.Option(
        "--watch", help="Restart when a .py file under app/ changes (development)")] = False,
) -> None:
    """Process jobs from the queues (claims with SKIP LOCKED, wakes on NOTIFY)."""
    if watch:  # this process only watches: the worker is its child (app/console/reloader.py)
        from app.console.reloader import watch_and_work
        from config import BASE_PATH

        sys.exit(watch_and_work(BASE_PATH / "app"))
    from app.queue.worker import MAX_CONCURRENCY, Worker, WorkerOptions

    ctx = context.current()
    settings = ctx.settings
    queues = queue_names("--queue", queue, settings.default_queue)
    check_work_options({"--concurrency": concurrency, "--tries": tries, "--memory": memory,
                        "--max-jobs": max_jobs},
                       {"--sleep": sleep, "--timeout": timeout, "--backoff": backoff,
                        "--rest": rest}, max_time)
    concurrency = concurrency or _default_concurrency()
    if concurrency > MAX_CONCURRENCY:
        bad_option("--concurrency (or JOB_WORKER_CONCURRENCY)",
                   f"must be at most {MAX_CONCURRENCY:,} (one thread per job: run more worker "
                   "processes instead)")
    options = WorkerOptions(
        queues=queues, concurrency=concurrency, sleep=sleep,
        tries=tries, timeout=timeout, backoff=backoff, memory=memory, max_jobs=max_jobs,
        max_time=max_time, stop_when_empty=stop_when_empty, once=once, rest=rest,
        name=default_worker_name() if name is None else name,
        listen=settings.listen,
    )
    from app.schema import require_current

    require_current(ctx.store.engine)
    reporter = WorkReporter(quiet, as_json)  # takes the worker's own stdout and stderr first
    keep_lines_whole(stdout_to_stderr=as_json)
    log_jobs_to_stderr(settings.job_packages)
    worker = Worker(ctx.store, settings, options, report=None if quiet else reporter.job,
                    log=reporter.log)
    if not (quiet or as_json):

        reporter.console.print(f"\n  [bold blue] INFO [/] Processing jobs from the "
                               f"[bold]{markup(', '.join(queues))}[/] "
                               f"{'queue' if len(queues) == 1 else 'queues'}.\n")
    reason = worker.run()
    reporter.log(f"stopped: {reason.value}")  # stderr, also with --quiet: why it exited
    ctx.store.engine.dispose()
    # Not sys.exit(): Python would wait for any non-daemon thread a job left running.
    process.exit_now(0, reporter.out, reporter.err)


def default_worker_name() -> str:
    """`HOST-PID`: each worker its own name in queue:workers, told apart without --name."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _default_concurrency() -> int:
    import config.queue

    return config.queue.load().concurrency
