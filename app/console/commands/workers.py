"""Workers: queue:workers, queue:restart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.console.cli import cli
from app.console.format import age, aligned, fits, indented, iso, styled
from app.console.options import JsonOption, queue_admin
from app.console.output import console, echo, err_console, markup, print_json
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


COLUMNS = ("Name", "Host", "PID", "Queues", "Running", "Processed", "Failed", "Heartbeat",
           "State")
NUMBERS = ("PID", "Running", "Processed", "Failed", "Heartbeat")


def worker_cells(w: WorkerInfo) -> dict[str, str]:
    return {"Name": w.name, "Host": w.host, "PID": str(w.pid), "Queues": ", ".join(w.queues),
            "Running": f"{w.running}/{w.concurrency}", "Processed": f"{w.processed:,}",
            "Failed": f"{w.failed:,}", "Heartbeat": f"{age(w.heartbeat_age)} ago",
            "State": w.state.value}


def print_workers(workers: Sequence[WorkerInfo], width: int) -> None:
    """One line per worker when every column fits; on a narrow screen (80 columns), its host
    and queues go on a line of their own under it, wrapped: nothing is dropped or cut."""
    rows = [worker_cells(w) for w in workers]
    if fits(rows, COLUMNS, width):
        console().print(workers_table(rows))
        return
    columns = [title for title in COLUMNS if title not in ("Host", "Queues")]
    right = {i for i, title in enumerate(columns) if title in NUMBERS}
    header, *lines = aligned([columns, *([row[title] for title in columns] for row in rows)],
                             right)
    echo(header)
    for row, line in zip(rows, lines, strict=True):
        echo(line)
        echo(indented(f"on {row['Host']}, queues {row['Queues']}", width))


def workers_table(rows: Sequence[dict[str, str]]) -> Table:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for title in COLUMNS:
        table.add_column(title, justify="right" if title in NUMBERS else "left",
                         overflow="fold", no_wrap=title in NUMBERS)
    for row in rows:
        table.add_row(*(styled(row[title]) if title == "State" else markup(row[title])
                        for title in COLUMNS))
    return table


@cli.command("queue:workers")
def workers(
    show_all: Annotated[bool, typer.Option(
        "--all", help="Also workers that stopped, and those dead for over an hour")] = False,
    as_json: JsonOption = False,
) -> None:
    """Live and recently dead workers, with their heartbeat age; --all adds stopped ones."""
    settings = context.current().settings
    rows = queue_admin().workers(settings.retry_after, include_all=show_all)
    if as_json:
        print_json({"workers": [worker_json(w) for w in rows]})
    elif not rows:
        echo("No workers.")
    else:
        print_workers(rows, console().width)
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
