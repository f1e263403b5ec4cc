"""queue:job: where one job is, its attempts, progress and last error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.console.cli import cli
from app.console.format import iso, local, styled
from app.console.options import JsonOption, queue_admin
from app.console.output import console, echo, fail, markup, print_json

if TYPE_CHECKING:
    from app.queue.admin import JobInfo


def job_json(job: JobInfo) -> dict[str, Any]:
    from app.queue.admin import error_summary

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
            "worker": worker, "batch_id": job.batch_id, "arguments": job.arguments,
            "chain": None if job.chain_id is None else
            {"id": job.chain_id, "steps_after": job.chain_steps_after}}


def where_is(job: JobInfo) -> str:
    """What follows the state word: `reserved by worker …`, `delayed until …`."""
    if job.state == "reserved":
        if job.worker_name is None:
            return f"by worker {job.worker_id} (no longer registered)"
        return (f"by worker {job.worker_name} on {job.worker_host} "
                f"(pid {job.worker_pid}) since {local(job.reserved_at)}")
    if job.state == "delayed":
        return f"until {local(job.available_at)}"
    if job.state == "failed":
        return f"at {local(job.failed_at)}"
    return f"since {local(job.available_at)}"


ARGUMENTS_SHOWN = 2000
"""Characters of the arguments the table shows (--json shows them all)."""


def arguments_text(arguments: Any) -> str:
    """The arguments as one line of JSON (`[encrypted]` as it is), cut at ARGUMENTS_SHOWN."""
    import json

    if isinstance(arguments, str):
        return arguments
    text = json.dumps(arguments, ensure_ascii=False, default=str)
    if len(text) <= ARGUMENTS_SHOWN:
        return text
    return f"{text[:ARGUMENTS_SHOWN]}… ({len(text):,} characters: --json shows them all)"


def membership(job: JobInfo) -> list[tuple[str, str]]:
    """The Batch and Chain lines, for a job that belongs to one."""
    lines = []
    if job.batch_id is not None:
        lines.append(("Batch", f"{job.batch_id} (queue:batch {job.batch_id})"))
    if job.chain_id is not None:
        lines.append(("Chain", f"{job.chain_id}, {job.chain_steps_after} more step(s) after "
                               "this one"))
    return lines


def print_job(job: JobInfo) -> None:
    from rich.table import Table

    from app.queue.admin import error_summary

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    progress = f"{job.progress:g}%" if job.progress is not None else "-"
    if job.progress_message:
        progress += f" {job.progress_message}"
    for label, value in (("Job", markup(job.id)),
                         ("Class", markup(job.job_class or "?")),
                         ("Queue", markup(job.queue)),
                         ("Arguments", markup(arguments_text(job.arguments))),
                         ("State", f"{styled(job.state.value)} {markup(where_is(job))}"),
                         ("Attempts", str(job.attempts)),
                         ("Progress", markup(progress)),
                         ("Last error", markup(error_summary(job.error)) or "-"),
                         *membership(job)):
        table.add_row(label, value)
    console().print(table)
    if job.error and job.error.strip() != error_summary(job.error):
        console().print()
        console().print(markup(job.error.rstrip(), lines=True), style="dim", soft_wrap=True)


@cli.command("queue:job")
def job(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="Job id")],
    as_json: JsonOption = False,
) -> None:
    """Where one job is (pending/delayed/reserved/failed), attempts, progress, last error."""
    info = queue_admin().find_job(job_id)
    if info is None:
        fail(f"job {job_id} is not pending, delayed, reserved or failed: either it finished "
             "(a job that succeeds is deleted, not kept) or it was never dispatched")
    if as_json:
        print_json(job_json(info))
    else:
        print_job(info)


@cli.command("queue:cancel")
def cancel(job_id: Annotated[str, typer.Argument(metavar="ID", help="Job or batch id")]
           ) -> None:
    """Cancel a job: a waiting one is removed (kept in failed_jobs as cancelled), a running
    one is stopped by its worker. Neither is retried. A batch id cancels the batch."""
    from app.queue.cancellation import cancel_job
    from app.queue.connections.records import CancelOutcome

    outcome = cancel_job(job_id)
    if outcome is CancelOutcome.UNKNOWN:
        return cancel_batch_by_id(job_id)
    echo({CancelOutcome.REMOVED: f"Cancelled job {job_id}: removed from its queue (in "
                                 "failed_jobs as cancelled).",
          CancelOutcome.STOPPING: f"Cancelled job {job_id}: its worker was asked to stop it "
                                  "(it will be in failed_jobs as cancelled).",
          CancelOutcome.FINISHED: f"Job {job_id} had already finished (failed): nothing to "
                                  "cancel."}[outcome])


def cancel_batch_by_id(batch_id: str) -> None:
    """queue:cancel of an id no job has: a batch's, or an unknown id (exit 1)."""
    from app.queue.bus.batch import cancel_batch, find_batch

    found = find_batch(batch_id)
    if found is None:
        fail(f"no job or batch with id {batch_id} is pending, delayed or running (done, or "
             "never dispatched)")
    if not cancel_batch(batch_id):
        echo(f"Batch {batch_id} was cancelled already: nothing to do.")
        return
    echo(f"Cancelled batch {batch_id}: its waiting jobs will not run; running ones see "
         "self.batch().cancelled.")
