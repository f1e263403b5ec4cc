"""Queue settings (SPEC §3), read from the environment after `.env` is loaded."""

from __future__ import annotations

from dataclasses import dataclass

from app.queue.names import check_queue_name
from config import boolean, env, name_list, non_negative_float, non_negative_int, positive_int


def connection_name(raw: str) -> str:
    if raw not in ("database", "sync"):
        raise ValueError("must be 'database' or 'sync'")
    return raw


@dataclass(frozen=True)
class QueueConfig:
    connection: str
    default_queue: str
    retry_after: float
    max_tries: int
    retry_delay: float | None
    timeout: float
    concurrency: int
    job_packages: tuple[str, ...]
    listen: bool
    dispatch_lock_timeout: float
    vacuum_every: int


def load() -> QueueConfig:
    return QueueConfig(
        connection=env("QUEUE_CONNECTION", "database", connection_name),
        default_queue=env("QUEUE_DEFAULT", "default", check_queue_name),
        retry_after=env("QUEUE_RETRY_AFTER", 90.0, non_negative_float),
        max_tries=env("JOB_MAX_RETRY_ATTEMPTS", 3, positive_int),
        retry_delay=env("JOB_RETRY_DELAY", None, non_negative_float),
        timeout=env("JOB_DEFAULT_TIMEOUT", 300.0, non_negative_float),
        concurrency=env("JOB_WORKER_CONCURRENCY", 1, positive_int),
        job_packages=env("QUEUE_JOB_PACKAGES", ("app.jobs",), name_list),
        listen=env("QUEUE_LISTEN", True, boolean),
        dispatch_lock_timeout=env("QUEUE_DISPATCH_LOCK_TIMEOUT", 5.0, non_negative_float),
        vacuum_every=env("QUEUE_VACUUM_EVERY", 100_000, non_negative_int),
    )


SUPERVISORS: dict[str, dict[str, object]] = {
    # Horizon's supervisors (SPEC §16), run by `python artisan.py supervise`. An example:
    # "main": {"connection": "database", "queues": ["high", "default"], "balance": "auto",
    #          "min_processes": 1, "max_processes": 4, "balance_max_shift": 1,
    #          "balance_cooldown": 3, "auto_scaling_strategy": "time", "concurrency": 10,
    #          "tries": 3, "timeout": 60},
}
"""name -> settings; QUEUE_SUPERVISORS (a JSON object) is merged over it, key by key."""

SUPERVISED_CONNECTIONS = ("database",)
"""The connections whose queues a supervisor can work: those `queue:work` serves (`sync` runs
jobs in the dispatching process, so there is nothing to supervise)."""


def json_object(raw: str) -> dict[str, object]:
    import json

    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object: supervisor name -> settings")
    return value


def supervisors() -> dict[str, object]:
    """SUPERVISORS with QUEUE_SUPERVISORS merged over it (unchecked: app.queue.supervisor
    checks every key)."""
    from app.queue.supervisor import merged

    return merged(SUPERVISORS, env("QUEUE_SUPERVISORS", {}, json_object))
