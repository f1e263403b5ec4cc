"""Queues: queue:status, queue:monitor, queue:clear, queue:pause, queue:resume.

Thin commands: check the options, call QueueAdmin, print a table or (with --json) JSON only.
The JSON keys are a contract, documented in docs/cli-json.md.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.console.cli import cli
from app.console.format import age, iso, plural
from app.console.long_waits import notify_long_waits
from app.console.options import (
    JsonOption,
    check_count,
    check_seconds,
    optional_queue_name,
    queue_admin,
    queue_name,
    queue_names,
)
from app.console.output import (
    bad_option,
    console,
    echo,
    fail,
    markup,
    print_json,
    print_warning,
)
from app.queue import context

if TYPE_CHECKING:
    from rich.table import Table

    from app.queue.admin import QueueAdmin, QueueSize, QueueStats


# --------------------------------------------------------------------------- status


def status_json(stats: QueueStats) -> dict[str, Any]:
    return {"queue": stats.queue, "pending": stats.pending, "delayed": stats.delayed,
            "reserved": stats.reserved, "failed": stats.failed,
            "oldest_pending_at": iso(stats.oldest_pending_at),
            "oldest_pending_age_seconds": stats.oldest_pending_age, "paused": stats.paused}


def status_table(rows: Sequence[QueueStats]) -> Table:
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    table.add_column("Queue", overflow="fold")
    for title in ("Pending", "Delayed", "Reserved", "Failed", "Oldest pending"):
        table.add_column(title, justify="right", no_wrap=True)
    table.add_column("Paused", no_wrap=True)
    for s in rows:
        table.add_row(markup(s.queue), f"{s.pending:,}", f"{s.delayed:,}", f"{s.reserved:,}",
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
    check_seconds("--interval", interval, 0.1)
    if watch and as_json:
        bad_option("--watch", "cannot be combined with --json")
    admin = queue_admin()
    default = [context.current().settings.default_queue]
    if as_json:
        print_json({"queues": [status_json(s) for s in admin.status(default)]})
    elif watch:
        watch_status(admin, default, interval)
    else:
        console().print(status_table(admin.status(default)))


def watch_status(admin: QueueAdmin, queues: list[str], interval: float) -> None:
    from rich.live import Live

    try:
        with Live(status_table(admin.status(queues)), console=console(),
                  auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                live.update(status_table(admin.status(queues)), refresh=True)
    except KeyboardInterrupt:
        return


# -------------------------------------------------------------------------- monitor


def fire_queue_busy(rows: Sequence[tuple[QueueSize, list[str]]]) -> None:
    """QueueBusy for each queue over a threshold, to the listeners app/providers.py registers
    (Laravel's queue:monitor fires it for its notifications)."""
    from app.queue import events

    for q, alerts in rows:
        if alerts:
            events.fire(events.QueueBusy(q.queue, q.size, q.oldest_pending_age))


def monitor_json(q: QueueSize, alerts: list[str]) -> dict[str, Any]:
    return {"queue": q.queue, "size": q.size, "pending": q.pending, "delayed": q.delayed,
            "reserved": q.reserved, "oldest_pending_at": iso(q.oldest_pending_at),
            "oldest_pending_age_seconds": q.oldest_pending_age,
            "status": "alert" if alerts else "ok", "alerts": alerts}


def monitor_table(rows: Sequence[tuple[QueueSize, list[str]]]) -> Table:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("Queue", overflow="fold")
    table.add_column("Size", justify="right", no_wrap=True)
    table.add_column("Oldest pending", justify="right", no_wrap=True)
    table.add_column("Status", overflow="fold")
    for q, alerts in rows:
        status = f"[bold red]ALERT[/] {markup('; '.join(alerts))}" if alerts else "[green]OK[/]"
        table.add_row(markup(q.queue), f"{q.size:,}", age(q.oldest_pending_age), status)
    return table


@cli.command("queue:monitor")
def monitor(
    queues: Annotated[str | None, typer.Argument(
        metavar="QUEUES", help="Queues to watch, comma-separated (default: every queue)")] = None,
    max_size: Annotated[int, typer.Option("--max", help="Alert when a queue has more jobs "
                                                         "than this")] = 1000,
    max_wait: Annotated[float | None, typer.Option(
        "--max-wait", help="Alert when a queue's oldest pending job has waited longer (s)")
    ] = None,
    as_json: JsonOption = False,
    notify: Annotated[bool, typer.Option(
        "--notify", help="Also notify the queues over their QUEUE_WAIT_THRESHOLDS")] = False,
) -> None:
    """Each queue's size and oldest wait; exit 1 when one is over --max or --max-wait (cron)."""
    check_count("--max", max_size, 0)
    check_seconds("--max-wait", max_wait)
    admin = queue_admin()
    default = context.current().settings.default_queue
    # No queue named: every queue, so that one drowning is never missed for not being listed.
    names = (admin.known_queues([default]) if queues is None
             else list(dict.fromkeys(queue_names("QUEUES", queues, default))))
    rows = [(q, q.alerts(max_size, max_wait)) for q in admin.monitor(names)]
    fire_queue_busy(rows)
    if notify:
        notify_long_waits()  # QUEUE_WAIT_THRESHOLDS' queues, not QUEUES; notices on stderr
    if as_json:
        print_json({"queues": [monitor_json(q, alerts) for q, alerts in rows],
                    "alert": any(alerts for _, alerts in rows)})
    else:
        console().print(monitor_table(rows))
    if any(alerts for _, alerts in rows):
        raise typer.Exit(1)  # not an error: the answer, for cron and alerting scripts


# ---------------------------------------------------------------------------- clear


@cli.command("queue:clear")
def clear(
    queue: Annotated[str | None, typer.Option(help="Queue (default QUEUE_DEFAULT)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete the waiting (pending and delayed) jobs of a queue; reserved jobs are left."""
    name = optional_queue_name("--queue", queue) or context.current().settings.default_queue
    if not force:
        confirm_clear(name)
    deleted = queue_admin().clear(name)
    echo(f"Cleared {plural(deleted, 'job')} from the [{name}] queue.")


def confirm_clear(name: str) -> None:
    if not sys.stdin.isatty():
        fail(f"refusing to clear queue [{name}] without confirmation: stdin is not a "
             "terminal; pass --force")
    if not typer.confirm(f"Delete every waiting job of queue [{name}]?", default=False):
        print("Cancelled: nothing deleted.", file=sys.stderr)
        raise typer.Exit(1)


# --------------------------------------------------------------------- pause / resume


@cli.command("queue:pause")
def pause(queue: Annotated[str, typer.Argument(help="Queue to pause")]) -> None:
    """Stop workers claiming from a queue (running jobs finish)."""
    queue = queue_name("QUEUE", queue)
    if context.current().store.pause(queue):
        echo(f"Queue [{queue}] paused: workers stop claiming from it.")
    else:
        echo(f"Queue [{queue}] was already paused.")
    if not queue_admin().queue_is_known(queue):
        warn_unknown_queue(queue)


def warn_unknown_queue(queue: str) -> None:
    """A pause of a queue no job or worker names is most likely a typo; it stands all the same
    (a queue may be paused before its first job), so the warning says so and how to undo it."""
    print_warning(f"no job or worker knows the queue [{queue}] (a typo?); it is paused all the "
                  f"same, for jobs dispatched to it later (`queue:resume {queue}` undoes it)")


@cli.command("queue:resume")
def resume(queue: Annotated[str, typer.Argument(help="Queue to resume")]) -> None:
    """Let workers claim from a paused queue again."""
    queue = queue_name("QUEUE", queue)
    store = context.current().store
    if store.resume(queue):
        store.notify([queue])
        echo(f"Queue [{queue}] resumed.")
    else:
        echo(f"Queue [{queue}] was not paused.")
