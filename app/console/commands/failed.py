"""Failed jobs: queue:failed, queue:retry, queue:retry-failed, queue:forget, queue:flush,
queue:clear-failed, queue:prune-failed.

Thin commands: check the options, call QueueAdmin, print a table or (with --json) JSON only.
The JSON keys are a contract, documented in docs/cli-json.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.console.cli import cli
from app.console.format import aligned, indented, iso, local, plural
from app.console.options import (
    JsonOption,
    QueueOption,
    check_count,
    check_hours,
    optional_queue_name,
    queue_admin,
)
from app.console.output import USAGE, bad_option, console, echo, fail, markup, print_json

if TYPE_CHECKING:
    from rich.table import Table

    from app.queue.admin import FailedJob, RetryResult

WIDE = 140
"""From this width the table has rules and full times."""
ERROR_WIDTH = 40
"""Narrower than this, the error gets a line of its own under its job instead of a column."""


def failed_json(job: FailedJob) -> dict[str, Any]:
    return {"id": job.id, "queue": job.queue, "job_class": job.job_class,
            "attempts": job.attempts, "failed_at": iso(job.failed_at), "error": job.error}


def column_widths(jobs: Sequence[FailedJob], names: Sequence[str], wide: bool) -> dict[str, int]:
    fixed = {"ID": 26,
             "Queue": min(max(len(job.queue) for job in jobs), 20),
             "Class": min(max(5, *map(len, names)), 32 if wide else 20),
             "Failed at": 19 if wide else 11}
    return {title: max(size, len(title)) for title, size in fixed.items()}


def failed_at(job: FailedJob, wide: bool) -> str:
    return local(job.failed_at) if wide else f"{job.failed_at.astimezone():%m-%d %H:%M}"


def print_failed(jobs: Sequence[FailedJob], width: int) -> None:
    """A table whose error column wraps; on a narrow screen (80 columns), each job on a line
    and its error on the next, as wide as the screen: wrapped, never cut."""
    from app.queue.admin import class_name

    wide = width >= WIDE
    names = [class_name(job.job_class) for job in jobs]
    widths = column_widths(jobs, names, wide)
    overhead = 2 * 5 + 4 if wide else 2 * 4  # padding (and rules when wide) around 5 columns
    error_width = width - sum(widths.values()) - overhead
    if error_width >= ERROR_WIDTH:
        console().print(failed_table(jobs, names, widths, error_width, wide))
        return
    rows = [list(widths), *([job.id, job.queue, name, failed_at(job, wide)]
                            for job, name in zip(jobs, names, strict=True))]
    header, *lines = aligned(rows)
    echo(header)
    for job, line in zip(jobs, lines, strict=True):
        echo(line)
        echo(indented(job.error, width))


def failed_table(jobs: Sequence[FailedJob], names: Sequence[str], widths: dict[str, int],
                 error_width: int, wide: bool) -> Table:
    from rich.table import Table

    # Widths are set here: rich's own fitting squeezes the short columns to nothing to make
    # room for a long error. The id (what the user copies) keeps its width and one line.
    if wide:
        table = Table(show_edge=False, header_style="bold")
    else:
        table = Table(box=None, pad_edge=False, header_style="bold")
    for title, size in widths.items():
        table.add_column(title, width=size, no_wrap=title != "Class", overflow="fold")
    table.add_column("Error", width=error_width, overflow="fold")
    for job, name in zip(jobs, names, strict=True):
        table.add_row(markup(job.id), markup(job.queue), markup(name), failed_at(job, wide),
                      markup(job.error))
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
    check_count("--limit", limit, 1)
    check_count("--page", page, 1)
    check_count("--offset", offset, 0)
    if sum(option is not None for option in (page, offset, after)) > 1:
        bad_option("--page/--offset/--after", "use one of them at a time")
    skip = offset if offset is not None else ((page or 1) - 1) * limit
    jobs = queue_admin().failed_jobs(optional_queue_name("--queue", queue), limit, skip, after)
    if jobs is None:
        fail(f"no failed job with id {after} (--after)")
    next_after = jobs[-1].id if len(jobs) == limit else None
    if as_json:
        print_json({"failed_jobs": [failed_json(job) for job in jobs], "next_after": next_after})
    elif not jobs:
        echo("No failed jobs." if skip == 0 and after is None else "No more failed jobs.")
    else:
        print_failed(jobs, console().width)
        if next_after:
            console().print(f"[dim]More: --after {next_after}[/dim]")


# ---------------------------------------------------------------------------- retry


def report_retry(result: RetryResult, listed: bool) -> None:
    if listed:
        for job_id in result.retried:
            echo(f"The failed job [{job_id}] has been pushed back onto the queue.")
    elif result.retried:
        echo(f"{plural(len(result.retried), 'failed job')} pushed back onto the "
             f"queue{'s' if len(result.queues) > 1 else ''} [{', '.join(result.queues)}].")
    else:
        echo("No failed jobs to retry.")
    problems = []
    if result.unknown:
        problems.append(f"no failed job with id {', '.join(result.unknown)}")
    if result.kept:
        problems.append("left in failed_jobs, a job with the same id is queued: "
                        + ", ".join(result.kept))
    if result.held:
        problems.append("left in failed_jobs, a unique job like it holds the lock: "
                        + ", ".join(result.held))
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
        report_retry(queue_admin().retry_all(queue), listed=False)
        return
    if not ids:
        fail("name the failed jobs to retry: ids, or `all`", code=USAGE)
    if "all" in ids:
        fail("`all` cannot be combined with ids", code=USAGE)
    if queue is not None:
        bad_option("--queue", "goes with `all`, not with ids")
    report_retry(queue_admin().retry(ids), listed=True)


@cli.command("queue:retry-failed")
def retry_failed(queue: QueueOption = None) -> None:
    """Push every failed job (of one queue) back onto its queue."""
    report_retry(queue_admin().retry_all(queue), listed=False)


# ------------------------------------------------------------------- forget / flush


@cli.command("queue:forget")
def forget(job_id: Annotated[str, typer.Argument(metavar="ID", help="Failed job id")]) -> None:
    """Delete one failed job."""
    if not queue_admin().forget(job_id):
        fail(f"no failed job with id {job_id}")
    echo(f"Failed job [{job_id}] deleted.")


def flush_failed(hours: float | None) -> None:
    check_hours("--hours", hours)
    deleted = queue_admin().flush(hours)
    older = f" that failed more than {hours:g} hours ago" if hours is not None else ""
    echo(f"Deleted {plural(deleted, 'failed job')}{older}.")


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
