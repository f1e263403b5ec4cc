"""dashboard: serve the web dashboard, the JSON API and /metrics with uvicorn (SPEC §12)."""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from app.console.cli import cli
from app.console.output import echo

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name may resolve to anything: treat it as reachable from outside


MIN_PUBLIC_TOKEN = 32
"""Characters a DASHBOARD_TOKEN needs for the dashboard to listen off loopback (the one the
command makes is 32: 24 random bytes, URL-safe base64)."""


def why_not_listen(host: str, token: str | None) -> str | None:
    """Why the dashboard may not listen on `host` with this DASHBOARD_TOKEN, if it may not:
    off loopback anyone who can reach it may try tokens, so it needs one, and a long one."""
    if is_loopback(host):
        return None
    if token is None:
        return (f"refusing to listen on {host} without DASHBOARD_TOKEN: anyone who can reach "
                "it could run and delete jobs (set DASHBOARD_TOKEN, or use 127.0.0.1)")
    if len(token) < MIN_PUBLIC_TOKEN:
        return (f"refusing to listen on {host} with a DASHBOARD_TOKEN of {len(token)} "
                f"characters: off loopback it needs at least {MIN_PUBLIC_TOKEN} (make one "
                "with: python -c \"import secrets; print(secrets.token_urlsafe(32))\")")
    return None


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@cli.command("dashboard")
def dashboard(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on", min=1, max=65535)] = 8000,
    read_only: Annotated[bool, typer.Option("--read-only",
                                            help="Show everything, change nothing")] = False,
    https: Annotated[bool, typer.Option("--https", help="Behind a TLS proxy: the session "
                                        "cookie is sent over HTTPS only")] = False,
) -> None:
    """Serve the web dashboard, the JSON API (/api) and Prometheus metrics (/metrics)."""
    import config.dashboard
    import config.queue
    import config.schedule
    from app.dashboard import DashboardSettings, create_app
    from app.dashboard.security import new_token

    settings = config.dashboard.load()
    refusal = why_not_listen(host, settings.token)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        raise typer.Exit(1)
    listening = listening_socket(host, port)
    # No token on loopback: one made for this run, printed once in the login URL (as Jupyter
    # does), so that other local users and web pages the browser opens still cannot act.
    token = settings.token or new_token()
    queue, schedule = config.queue.load(), config.schedule.load()
    app = create_app(DashboardSettings(
        token=token, read_only=read_only, health_max_wait=settings.health_max_wait,
        default_queue=queue.default_queue, retry_after=queue.retry_after,
        job_packages=queue.job_packages,
        schedule_module=schedule.module, schedule_timezone=schedule.timezone,
        secure_cookie=https),
        check_schema())
    address = f"http://{url_host(host)}:{port}"
    if settings.token is None:
        echo(f"Dashboard at {address}/ — open {address}/login?token={token} to log in "
             "(a token for this run; set DASHBOARD_TOKEN to keep one).")
    else:
        echo(f"Dashboard at {address}/ — log in with DASHBOARD_TOKEN."
             + (" Read-only." if read_only else ""))
    sys.stdout.flush()  # the login URL reaches a pipe or the journal before the server runs
    serve(app, listening)


def check_schema() -> Engine:
    """The engine, after checking the tables are at this code's revision. A database that
    does not answer yet is no reason not to start: the pages say so until it does."""
    import sqlalchemy as sa

    from app.queue import context
    from app.queue.errors import DatabaseUnavailable
    from app.schema import require_current

    engine = context.current().store.engine
    try:
        require_current(engine)
    except (DatabaseUnavailable, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        from app.console.output import error_line

        print(f"warning: {error_line(exc)}; pages answer 503 until it does", file=sys.stderr)
    return engine


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything is printed: a port in use (or an address
    not of this machine) is one line and exit 1, not uvicorn's log line and exit 3."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        print(f"error: cannot listen on {url_host(host)}:{port}: "
              f"{exc.strerror or exc} (another dashboard or server on it? choose another "
              "--port or --host)", file=sys.stderr)
        raise typer.Exit(1) from None
    return sock


def serve(app: object, listening: socket.socket) -> None:
    import uvicorn

    host, port = listening.getsockname()[:2]
    config = uvicorn.Config(app, host=host, port=port,  # type: ignore[arg-type]
                            log_level="warning", server_header=False,
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[listening])
