"""supervise, supervise:pause, supervise:continue, supervise:terminate, supervise:status."""

from __future__ import annotations

import datetime as dt
import sys
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.console.cli import cli
from app.console.format import age, iso
from app.console.options import JsonOption
from app.console.output import bad_option, console, echo, markup, print_json, printable
from app.queue import context, process

if TYPE_CHECKING:
    from app.queue.supervisor import SupervisorSettings
    from app.queue.supervisor.store import SupervisorInfo, SupervisorStore

SupervisorOption = Annotated[str | None, typer.Option(
    "--supervisor", help="Only the supervisor of this name (default: every one)")]


def configured(only: str | None) -> tuple[SupervisorSettings, ...]:
    """The supervisors of config/queue.py and QUEUE_SUPERVISORS, checked; `only` picks one."""
    import config.queue
    from app.queue.supervisor import SupervisorConfigError, parse_all

    queue = config.queue.load()
    found = parse_all(config.queue.supervisors(), config.queue.SUPERVISED_CONNECTIONS,
                      queue.default_queue)
    if not found:
        raise SupervisorConfigError(
            "no supervisors: declare them in config/queue.py (SUPERVISORS) or "
            "QUEUE_SUPERVISORS")
    if only is None:
        return found
    picked = tuple(s for s in found if s.name == only)
    if not picked:
        bad_option("--supervisor", f"no supervisor {only!r} (declared: "
                   f"{', '.join(s.name for s in found)})")
    return picked


def supervisor_store() -> SupervisorStore:
    from app.queue.supervisor.store import SupervisorStore

    return SupervisorStore(context.current().store.engine)


def log_line(text: str) -> None:
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    sys.stderr.write(f"  {now} SUPERVISOR {printable(text)}\n")  # queue names are user text
    sys.stderr.flush()


@cli.command("supervise")
def supervise(only: SupervisorOption = None) -> None:
    """Run the supervisors of config/queue.py: pools of queue:work processes, balanced."""
    from app.console.long_waits import watch_long_waits
    from app.queue.supervisor.supervisor import Supervision
    from app.schema import require_current
    from config import BASE_PATH

    settings = configured(only)
    store = supervisor_store()
    require_current(store.engine)
    command = [sys.executable, str(BASE_PATH / "artisan.py"), "queue:work"]
    for s in settings:
        log_line(f"{s.name}: queues {', '.join(s.queues)}, balance {s.balance.value}, "
                 f"{describe_processes(s)}")
    watch_long_waits(threading.Event(), log_line)  # QUEUE_WAIT_THRESHOLDS, each minute
    code = Supervision(store, settings, command, log_line).run()
    log_line("stopped")
    store.engine.dispose()
    process.exit_now(code, sys.stdout, sys.stderr)


def describe_processes(s: SupervisorSettings) -> str:
    if s.balance.value == "auto":
        return f"{s.min_processes} to {s.max_processes} processes"
    return f"{s.processes} processes"


def ask(wanted: str, only: str | None, done: str) -> None:
    asked = supervisor_store().ask(wanted, only)
    if not asked:
        echo("No running supervisors" + (f" named {only}." if only else "."))
        return
    for name, host, pid in asked:
        echo(f"{done} {name} on {host} (pid {pid}).")


@cli.command("supervise:pause")
def pause(only: SupervisorOption = None) -> None:
    """Pause the running supervisors (on every host): their processes stop after their jobs."""
    ask("paused", only, "Pausing")


@cli.command("supervise:continue")
def resume(only: SupervisorOption = None) -> None:
    """Continue paused supervisors: their processes start again."""
    ask("running", only, "Continuing")


@cli.command("supervise:terminate")
def terminate(only: SupervisorOption = None) -> None:
    """Stop the running supervisors gracefully (for deploys: the process manager restarts)."""
    ask("terminated", only, "Terminating")


def supervisor_json(s: SupervisorInfo) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "host": s.host, "pid": s.pid,
            "connection": s.connection, "state": s.state, "wanted": s.wanted,
            "processes": s.processes, "settings": s.settings, "started_at": iso(s.started_at),
            "heartbeat_at": iso(s.heartbeat_at), "heartbeat_age_seconds": s.heartbeat_age,
            "stopped_at": iso(s.stopped_at)}


@cli.command("supervise:status")
def status(as_json: JsonOption = False) -> None:
    """Each supervisor: host, pid, state, processes per queue."""
    rows = supervisor_store().supervisors()
    if as_json:
        print_json({"supervisors": [supervisor_json(s) for s in rows]})
        return
    if not rows:
        echo("No supervisors.")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for title in ("Name", "Host", "PID", "State", "Processes", "Heartbeat"):
        table.add_column(title, overflow="fold")
    for s in rows:
        processes = ", ".join(f"{pool}: {n}" for pool, n in s.processes.items()) or "none"
        table.add_row(markup(s.name), markup(s.host), str(s.pid), s.state, markup(processes),
                      f"{age(s.heartbeat_age)} ago")
    console().print(table)
