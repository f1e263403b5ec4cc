"""Workers: queue:workers, queue:restart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.console.cli import cli
from app.console.format import age, iso, styled
from app.console.options import JsonOption, queue_admin
from app.console.output import console, echo, err_console, print_json
from app.queue import context

if TYPE_CHECKING:
    from rich.table import Table

    from app.queue.admin import WorkerInfo


def worker_json(w: WorkerInfo) -> dict[str, Any]:
    return {"id": w.id, "name": w.name, "host": w.host, "pid": w.pid, "queues": list(w.queues),
            "concurrency": w.concurrency, "running": w.running, "processed": w.processed,
            "failed": w.failed, "started_at": iso(w.started_at),
            "heartbeat_at": iso(w.heartbeat_at), "heartbeat_age_seconds": w.heartbeat_age,
            "stopped_at": iso(w.stopped_at), "state": w.state.value}


def workers_table(workers: Sequence[WorkerInfo]) -> Table:
    from rich.markup import escape
    from rich.table import Table

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
    rows = queue_admin().workers(settings.retry_after, include_all=show_all)
    if as_json:
        print_json({"workers": [worker_json(w) for w in rows]})
    elif not rows:
        echo("No workers.")
    else:
        console().print(workers_table(rows))
        dead = sum(w.state == "dead" for w in rows)
        if dead:
            err_console().print(f"[red]{dead} worker{'s' if dead != 1 else ''} silent for over "
                                f"{settings.retry_after:g}s: presumed dead (a live worker "
                                "gives their jobs back).[/]")


@cli.command("queue:restart")
def restart() -> None:
    """Make every running worker exit gracefully after its current jobs."""
    at = context.current().store.signal_restart()
    echo(f"Broadcasting queue restart signal ({at:%Y-%m-%d %H:%M:%S %Z}).")
