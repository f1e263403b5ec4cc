"""The values the queue core runs with. Built from config/ by app.bootstrap, passed in."""

from __future__ import annotations

from dataclasses import dataclass

MAX_BACKOFF = 3600.0
"""Exponential backoff (1, 2, 4 ... seconds) stops growing at one hour."""

MAX_DELAY = 100 * 365.25 * 86400
"""The longest delay accepted (100 years): far below where PostgreSQL's interval and
timestamptz overflow (~292,000 years), so `now() + delay` can always be stored."""

MAX_PRIORITY = 2**31 - 1
"""`jobs.priority` is a PostgreSQL integer; larger values are refused at dispatch."""


@dataclass(frozen=True, slots=True)
class Defaults:
    """Fallbacks for jobs that leave tries/timeout/backoff unset (worker flags, then config)."""

    tries: int = 3
    timeout: float = 300.0
    backoff: float | None = None


@dataclass(frozen=True)
class QueueSettings:
    connection: str = "database"
    """`database` or `sync` (jobs run inline at dispatch)."""
    default_queue: str = "default"
    retry_after: float = 90.0
    """Seconds without a heartbeat after which a worker's jobs are given back."""
    max_tries: int = 3
    retry_delay: float | None = None
    """Fixed backoff for jobs that set none; None means exponential."""
    timeout: float = 300.0
    job_packages: tuple[str, ...] = ("app.jobs",)
    listen: bool = True
    """False behind PgBouncer in transaction mode: no LISTEN, nothing prepared, no session
    settings."""
    dispatch_lock_timeout: float = 5.0
    """Seconds a dispatch of our own may wait for a lock on jobs; 0: as long as it takes."""
    metrics_days: int = 7
    """Days of per-minute history (queue_metrics) the workers keep."""
    app_keys: tuple[str, ...] = ()
    """APP_KEY then APP_PREVIOUS_KEYS: the first encrypts `encrypted = True` jobs, any
    decrypts."""
    vacuum_every: int = 100_000
    """Rows inserted into jobs since its last VACUUM after which a worker vacuums it (the
    bloat guard, app/queue/vacuum.py); 0: never."""
