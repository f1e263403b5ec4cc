"""Operating the queue: queue:failed, retry, forget, flush, clear, status, job, workers.

Thin commands: check the options, call QueueAdmin, print a rich table or (with --json) JSON
only. The JSON keys are a contract, documented in docs/cli-json.md.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import time
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from app.console.cli import cli
from app.console.options import optional_queue_name
from app.console.output import console, echo, err_console, print_json
from app.queue import context
from app.queue.admin import (
    FailedJob,
    JobInfo,
    JobState,
    QueueAdmin,
    QueueStats,
    RetryResult,
    WorkerInfo,
    WorkerState,
    class_name,
    error_summary,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON only (docs/cli-json.md)")]
QueueOption = Annotated[str | None, typer.Option("--queue", help="Only this queue")]
STATE_STYLE = {"pending": "green", "delayed": "cyan", "reserved": "yellow", "failed": "red",
               "live": "green", "stopped": "dim", "dead": "red"}


def admin() -> QueueAdmin:
    return QueueAdmin(context.current().store.engine)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, in the kernel's `error: …` form, and a non-zero exit."""
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def bad_option(option: str, message: str) -> NoReturn:
    fail(f"invalid value for {option}: {message}", code=2)


def check_at_least(option: str, value: float | None, least: float) -> None:
    if value is not None and not (math.isfinite(value) and value >= least):
        bad_option(option, f"must be a number of {least:g} or more, not {value:g}")


# ----------------------------------------------------------------------- formatting


def iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def local(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def age(seconds: float | None) -> str:
    """3s, 4m 10s, 2h 5m, 3d 4h."""
    if seconds is None:
        return "-"
    whole = max(int(seconds), 0)
    for unit, size, sub_unit, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60),
                                           ("m", 60, "s", 1)):
        if whole >= size:
            return f"{whole // size}{unit} {whole % size // sub_size}{sub_unit}"
    return f"{whole}s"


def styled(state: str) -> str:
    return f"[{STATE_STYLE.get(state, 'white')}]{state}[/]"


# ----------------------------------------------------------------------- failed jobs


def failed_json(job: FailedJob) -> dict[str, Any]:
    return {"id": job.id, "queue": job.queue, "job_class": job.job_class,
            "attempts": job.attempts, "failed_at": iso(job.failed_at), "error": job.error}


def failed_table(jobs: Sequence[FailedJob], width: int) -> Table:
    # One line per job, widths set here: rich's own fitting squeezes the short columns to
    # nothing to make room for a long error. The id (what the user copies) keeps its width
    # down to 80 columns; below 140 the table loses its rules and the time its year.
    wide = width >= 140
    names = [class_name(job.job_class) for job in jobs]
    fixed = {"ID": 26,
             "Queue": min(max(len(job.queue) for job in jobs), 20),
             "Class": min(max(5, *map(len, names)), 32 if wide else 14),
             "Failed at": 19 if wide else 11}
    if wide:
        table = Table(show_edge=False, header_style="bold")
        overhead = 2 * 5 + 4  # padding around each of 5 columns, 4 separators
    else:
        table = Table(box=None, pad_edge=False, header_style="bold")
        overhead = 2 * 4
    for title, size in fixed.items():
        table.add_column(title, width=max(size, len(title)), no_wrap=True, overflow="ellipsis")
    rest = width - sum(max(size, len(title)) for title, size in fixed.items()) - overhead
    table.add_column("Error", width=max(rest, 10), no_wrap=True, overflow="ellipsis")
    for job, name in zip(jobs, names, strict=True):
        failed_at = local(job.failed_at) if wide else f"{job.failed_at.astimezone():%m-%d %H:%M}"
        table.add_row(job.id, escape(job.queue), escape(name), failed_at, escape(job.error))
    return table


@cli.command("queue:failed")
def failed(
    queue: QueueOption = None,
    limit: Annotated[int, typer.Option(help="Rows per page")] = 50,
    page: Annotated[int | None, typer.Option(help="Page number, from 1")] = None,
    offset: Annotated[int | None, typer.Option(help="Rows to skip")] = None,
    after: Annotated[str | None, typer.Option(help="Start after this failed job id")] = None,
    as_json: JsonOption = False,
) -> None:
    """List failed jobs, newest first: id, queue, class, failed at, first line of the error."""
    check_at_least("--limit", limit, 1)
    check_at_least("--page", page, 1)
    check_at_least("--offset", offset, 0)
    if sum(option is not None for option in (page, offset, after)) > 1:
        bad_option("--page/--offset/--after", "use one of them at a time")
    skip = offset if offset is not None else ((page or 1) - 1) * limit
    jobs = admin().failed_jobs(optional_queue_name("--queue", queue), limit, skip, after)
    if jobs is None:
        fail(f"no failed job with id {after} (--after)")
    next_after = jobs[-1].id if len(jobs) == limit else None
    if as_json:
        print_json({"failed_jobs": [failed_json(job) for job in jobs], "next_after": next_after})
    elif not jobs:
        echo("No failed jobs." if skip == 0 and after is None else "No more failed jobs.")
    else:
        console.print(failed_table(jobs, console.width))
        if next_after:
            console.print(f"[dim]More: --after {next_after}[/dim]")


# ---------------------------------------------------------------------------- retry


def report_retry(result: RetryResult, listed: bool) -> None:
    if listed:
        for job_id in result.retried:
            echo(f"The failed job [{job_id}] has been pushed back onto the queue.")
    elif result.retried:
        echo(f"{len(result.retried)} failed job{'s' if len(result.retried) != 1 else ''} "
             f"pushed back onto the queue{'s' if len(result.queues) > 1 else ''} "
             f"[{', '.join(result.queues)}].")
    else:
        echo("No failed jobs to retry.")
    problems = []
    if result.unknown:
        problems.append(f"no failed job with id {', '.join(result.unknown)}")
    if result.kept:
        problems.append("left in failed_jobs, a job with the same id is queued: "
                        + ", ".join(result.kept))
    if problems:
        fail("; ".join(problems))


@cli.command("queue:retry")
def retry(
    ids: Annotated[list[str] | None, typer.Argument(help="Failed job ids, or `all`")] = None,
    queue: Annotated[str | None, typer.Option(help="With `all`: only this queue")] = None,
) -> None:
    """Push failed jobs back onto their queues (attempts reset, same id)."""
    ids = ids or []
    if ids == ["all"] or (not ids and queue is not None):
        report_retry(admin().retry_all(queue), listed=False)
        return
    if not ids:
        fail("name the failed jobs to retry: ids, or `all`", code=2)
    if "all" in ids:
        fail("`all` cannot be combined with ids", code=2)
    if queue is not None:
        bad_option("--queue", "goes with `all`, not with ids")
    report_retry(admin().retry(ids), listed=True)


@cli.command("queue:retry-failed")
def retry_failed(queue: QueueOption = None) -> None:
    """Push every failed job (of one queue) back onto its queue."""
    report_retry(admin().retry_all(queue), listed=False)


# ------------------------------------------------------------------- forget / flush


@cli.command("queue:forget")
def forget(job_id: Annotated[str, typer.Argument(metavar="ID", help="Failed job id")]) -> None:
    """Delete one failed job."""
    if not admin().forget(job_id):
        fail(f"no failed job with id {job_id}")
    echo(f"Failed job [{job_id}] deleted.")


def flush_failed(hours: float | None) -> None:
    check_at_least("--hours", hours, 0)
    deleted = admin().flush(hours)
    plural = "s" if deleted != 1 else ""
    older = f" that failed more than {hours:g} hours ago" if hours is not None else ""
    echo(f"Deleted {deleted} failed job{plural}{older}.")


@cli.command("queue:flush")
def flush(
    hours: Annotated[float | None, typer.Option(help="Only those older than H hours")] = None,
) -> None:
    """Delete failed jobs (all, or those that failed more than H hours ago)."""
    flush_failed(hours)


@cli.command("queue:clear-failed")
def clear_failed() -> None:
    """Delete every failed job."""
    flush_failed(None)


@cli.command("queue:prune-failed")
def prune_failed(
    hours: Annotated[float, typer.Option(help="Delete those older than H hours")] = 24,
) -> None:
    """Delete failed jobs that failed more than H hours ago (default 24)."""
    flush_failed(hours)


# ---------------------------------------------------------------------------- clear


@cli.command("queue:clear")
def clear(
    queue: Annotated[str | None, typer.Option(help="Queue (default QUEUE_DEFAULT)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete the waiting (pending and delayed) jobs of a queue; reserved jobs are left."""
    name = optional_queue_name("--queue", queue) or context.current().settings.default_queue
    if not force:
        if not sys.stdin.isatty():
            fail(f"refusing to clear queue [{name}] without confirmation: stdin is not a "
                 "terminal; pass --force")
        if not typer.confirm(f"Delete every waiting job of queue [{name}]?", default=False):
            print("Cancelled: nothing deleted.", file=sys.stderr)
            raise typer.Exit(1)
    deleted = admin().clear(name)
    echo(f"Cleared {deleted} job{'s' if deleted != 1 else ''} from the [{name}] queue.")


# --------------------------------------------------------------------------- status


def status_json(stats: QueueStats) -> dict[str, Any]:
    return {"queue": stats.queue, "pending": stats.pending, "delayed": stats.delayed,
            "reserved": stats.reserved, "failed": stats.failed,
            "oldest_pending_at": iso(stats.oldest_pending_at),
            "oldest_pending_age_seconds": stats.oldest_pending_age, "paused": stats.paused}


def status_table(rows: Sequence[QueueStats]) -> Table:
    table = Table(show_edge=False, header_style="bold")
    table.add_column("Queue", no_wrap=True)
    for title in ("Pending", "Delayed", "Reserved", "Failed", "Oldest pending"):
        table.add_column(title, justify="right", no_wrap=True)
    table.add_column("Paused", no_wrap=True)
    for s in rows:
        table.add_row(escape(s.queue), f"{s.pending:,}", f"{s.delayed:,}", f"{s.reserved:,}",
                      f"[red]{s.failed:,}[/]" if s.failed else "0",
                      age(s.oldest_pending_age),
                      "[yellow]paused[/]" if s.paused else "no")
    return table


@cli.command("queue:status")
def status(
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes")] = 2.0,
    as_json: JsonOption = False,
) -> None:
    """Per queue: pending, delayed, reserved, failed, oldest pending age, paused."""
    check_at_least("--interval", interval, 0.1)
    if watch and as_json:
        bad_option("--watch", "cannot be combined with --json")
    queue_admin = admin()
    default = [context.current().settings.default_queue]
    if as_json:
        print_json({"queues": [status_json(s) for s in queue_admin.status(default)]})
    elif watch:
        watch_status(queue_admin, default, interval)
    else:
        console.print(status_table(queue_admin.status(default)))


def watch_status(queue_admin: QueueAdmin, queues: list[str], interval: float) -> None:
    try:
        with Live(status_table(queue_admin.status(queues)), console=console,
                  auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                live.update(status_table(queue_admin.status(queues)), refresh=True)
    except KeyboardInterrupt:
        return


# ------------------------------------------------------------------------------ job


def job_json(job: JobInfo) -> dict[str, Any]:
    worker = None
    if job.worker_id is not None:
        worker = {"id": job.worker_id, "name": job.worker_name, "host": job.worker_host,
                  "pid": job.worker_pid}
    return {"id": job.id, "state": job.state.value, "queue": job.queue,
            "job_class": job.job_class, "attempts": job.attempts, "priority": job.priority,
            "progress": job.progress, "progress_message": job.progress_message,
            "error": error_summary(job.error) if job.error else None, "error_detail": job.error,
            "created_at": iso(job.created_at), "available_at": iso(job.available_at),
            "reserved_at": iso(job.reserved_at), "failed_at": iso(job.failed_at),
            "worker": worker}


def where_is(job: JobInfo) -> str:
    """What follows the state word: `reserved by worker …`, `delayed until …`."""
    if job.state is JobState.RESERVED:
        if job.worker_name is None:
            return f"by worker {job.worker_id} (no longer registered)"
        return (f"by worker {job.worker_name} on {job.worker_host} "
                f"(pid {job.worker_pid}) since {local(job.reserved_at)}")
    if job.state is JobState.DELAYED:
        return f"until {local(job.available_at)}"
    if job.state is JobState.FAILED:
        return f"at {local(job.failed_at)}"
    return f"since {local(job.available_at)}"


def print_job(job: JobInfo) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    progress = f"{job.progress:g}%" if job.progress is not None else "-"
    if job.progress_message:
        progress += f" {job.progress_message}"
    for label, value in (("Job", escape(job.id)),
                         ("Class", escape(job.job_class or "?")),
                         ("Queue", escape(job.queue)),
                         ("State", f"{styled(job.state.value)} {escape(where_is(job))}"),
                         ("Attempts", str(job.attempts)),
                         ("Progress", escape(progress)),
                         ("Last error", escape(error_summary(job.error)) or "-")):
        table.add_row(label, value)
    console.print(table)
    if job.error and job.error.strip() != error_summary(job.error):
        console.print()
        console.print(escape(job.error.rstrip()), style="dim", soft_wrap=True)


@cli.command("queue:job")
def job(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="Job id")],
    as_json: JsonOption = False,
) -> None:
    """Where one job is (pending/delayed/reserved/failed), attempts, progress, last error."""
    info = admin().find_job(job_id)
    if info is None:
        fail(f"no job with id {job_id}: not pending, reserved or failed (done, or never "
             "dispatched)")
    if as_json:
        print_json(job_json(info))
    else:
        print_job(info)


# -------------------------------------------------------------------------- workers


def worker_json(w: WorkerInfo) -> dict[str, Any]:
    return {"id": w.id, "name": w.name, "host": w.host, "pid": w.pid, "queues": list(w.queues),
            "concurrency": w.concurrency, "running": w.running, "processed": w.processed,
            "failed": w.failed, "started_at": iso(w.started_at),
            "heartbeat_at": iso(w.heartbeat_at), "heartbeat_age_seconds": w.heartbeat_age,
            "stopped_at": iso(w.stopped_at), "state": w.state.value}


def workers_table(workers: Sequence[WorkerInfo]) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for title in ("Name", "Host", "PID"):
        table.add_column(title, no_wrap=True)
    table.add_column("Queues", overflow="fold", min_width=6)
    for title in ("Running", "Processed", "Failed", "Heartbeat"):
        table.add_column(title, justify="right", no_wrap=True)
    table.add_column("State", no_wrap=True)
    for w in workers:
        table.add_row(escape(w.name), escape(w.host), str(w.pid), escape(", ".join(w.queues)),
                      f"{w.running}/{w.concurrency}", f"{w.processed:,}", f"{w.failed:,}",
                      f"{age(w.heartbeat_age)} ago", styled(w.state.value))
    return table


@cli.command("queue:workers")
def workers(
    show_all: Annotated[bool, typer.Option("--all", help="Also workers stopped over an hour "
                                                         "ago")] = False,
    as_json: JsonOption = False,
) -> None:
    """Live and recently stopped or dead workers, with their heartbeat age."""
    settings = context.current().settings
    rows = admin().workers(settings.retry_after, include_all=show_all)
    if as_json:
        print_json({"workers": [worker_json(w) for w in rows]})
    elif not rows:
        echo("No workers.")
    else:
        console.print(workers_table(rows))
        dead = sum(w.state is WorkerState.DEAD for w in rows)
        if dead:
            err_console.print(f"[red]{dead} worker{'s' if dead != 1 else ''} silent for over "
                              f"{settings.retry_after:g}s: presumed dead (a live worker gives "
                              "their jobs back).[/]")
