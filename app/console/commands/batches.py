"""Batches: queue:batches, queue:batch, queue:retry-batch, queue:prune-batches.

Thin commands: check the options, call the batch API (app/queue/bus/batch.py) or QueueAdmin,
print a table or (with --json) JSON only (the keys are documented in docs/cli-json.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.console.cli import cli
from app.console.format import aligned, iso, local, styled
from app.console.options import JsonOption, check_count, check_hours, queue_admin
from app.console.output import console, echo, fail, markup, print_json

if TYPE_CHECKING:
    from app.queue.bus.batch import Batch


def batch_state(batch: Batch) -> str:
    if batch.cancelled:
        return "cancelled"
    return "finished" if batch.finished else "running"


def batch_json(batch: Batch) -> dict[str, Any]:
    return {"id": batch.id, "name": batch.name, "state": batch_state(batch),
            "total_jobs": batch.total_jobs, "pending_jobs": batch.pending_jobs,
            "processed_jobs": batch.processed_jobs, "failed_jobs": batch.failed_jobs,
            "failed_job_ids": list(batch.failed_job_ids), "progress": batch.progress,
            "allows_failures": batch.allows_failures, "created_at": iso(batch.created_at),
            "cancelled_at": iso(batch.cancelled_at), "finished_at": iso(batch.finished_at)}


def find_or_fail(batch_id: str) -> Batch:
    from app.queue.bus.batch import find_batch

    found = find_batch(batch_id)
    if found is None:
        fail(f"no batch with id {batch_id} (never dispatched, or pruned)")
    return found


@cli.command("queue:batches")
def batches(
    limit: Annotated[int, typer.Option(help="How many, newest first")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The newest batches: progress, counters, state."""
    from app.queue.bus.batch import recent_batches

    check_count("--limit", limit, 1)
    found = recent_batches(limit)
    if as_json:
        print_json([batch_json(batch) for batch in found])
        return
    if not found:
        echo("No batches.")
        return
    rows = [("ID", "NAME", "STATE", "PROGRESS", "TOTAL", "PENDING", "FAILED", "CREATED")]
    rows += [(b.id, b.name or "-", batch_state(b), f"{b.progress}%", str(b.total_jobs),
              str(b.pending_jobs), str(b.failed_jobs), local(b.created_at)) for b in found]
    for line in aligned(rows, right={3, 4, 5, 6}):
        echo(line)


@cli.command("queue:batch")
def show_batch(
    batch_id: Annotated[str, typer.Argument(metavar="ID", help="Batch id")],
    as_json: JsonOption = False,
) -> None:
    """One batch: its counters, state and failed jobs."""
    from rich.table import Table

    b = find_or_fail(batch_id)
    if as_json:
        print_json(batch_json(b))
        return
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in (
            ("Batch", markup(b.id)), ("Name", markup(b.name) or "-"),
            ("State", styled(batch_state(b))),
            ("Progress", f"{b.progress}% ({b.processed_jobs} of {b.total_jobs} processed)"),
            ("Pending", str(b.pending_jobs)), ("Failed", str(b.failed_jobs)),
            ("Allows failures", "yes" if b.allows_failures else "no"),
            ("Created", local(b.created_at)), ("Cancelled", local(b.cancelled_at)),
            ("Finished", local(b.finished_at)),
            ("Failed jobs", markup(", ".join(b.failed_job_ids)) or "-")):
        table.add_row(label, value)
    console().print(table)


@cli.command("queue:retry-batch")
def retry_batch(batch_id: Annotated[str, typer.Argument(metavar="ID", help="Batch id")]) -> None:
    """Push the batch's failed jobs back onto their queues (attempts reset, same ids)."""
    from app.console.commands.failed import report_retry
    from app.queue.bus.batch import batch_store

    find_or_fail(batch_id)
    ids = batch_store().failed_ids(batch_id)
    if not ids:
        echo(f"Batch [{batch_id}] has no failed jobs to retry.")
        return
    report_retry(queue_admin().retry(ids), listed=False)


@cli.command("queue:prune-batches")
def prune_batches(
    hours: Annotated[float, typer.Option(help="Finished batches older than this")] = 24,
    unfinished: Annotated[float | None, typer.Option(
        help="Also unfinished batches created more than this many hours ago")] = None,
    cancelled: Annotated[float | None, typer.Option(
        help="Also cancelled batches cancelled more than this many hours ago")] = None,
) -> None:
    """Delete old batches from job_batches (their jobs are not touched)."""
    from app.queue.bus.batch import batch_store

    for option, value in (("--hours", hours), ("--unfinished", unfinished),
                          ("--cancelled", cancelled)):
        check_hours(option, value)
    deleted = batch_store().prune(hours, unfinished, cancelled)
    echo(f"Deleted {deleted} batch{'' if deleted == 1 else 'es'}.")
