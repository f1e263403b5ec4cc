"""Queue settings (SPEC §3), read from the environment after `.env` is loaded."""

from __future__ import annotations

import json
import math
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app.queue.names import check_queue_name
from config import (
    ConfigError,
    boolean,
    env,
    name_list,
    non_negative_float,
    non_negative_int,
    positive_int,
)

if TYPE_CHECKING:
    from app.queue.observe.notify import MailSettings, NotifySettings


def connection_name(raw: str) -> str:
    if raw not in ("database", "sync"):
        raise ValueError("must be 'database' or 'sync'")
    return raw


# ------------------------------------------------------------------- long-wait notifications


def wait_thresholds(raw: str) -> dict[str, float]:
    """QUEUE_WAIT_THRESHOLDS: a JSON object, queue name -> seconds above 0."""
    value = json_object(raw, 'queue -> seconds, e.g. {"default": 60}')
    for queue, seconds in value.items():
        check_queue_name(queue)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
                or not 0 < seconds < math.inf:
            raise ValueError(f"the seconds of queue {queue!r} must be a number above 0")
    return {queue: float(seconds) for queue, seconds in value.items()}


def http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    return raw


def mail_url(raw: str) -> tuple[str, int, bool, str | None, str | None]:
    """MAIL_URL: smtp://[user:password@]host[:port] (port 25), smtps://… (TLS, port 465)."""
    parts = urlsplit(raw)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("must be smtp://host:port or smtps://host:port")
    tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if tls else 25)
    except ValueError:
        raise ValueError("its port must be a number from 1 to 65535") from None
    return parts.hostname, port, tls, parts.username, parts.password


def addresses(raw: str) -> tuple[str, ...]:
    found = name_list(raw)
    for address in found:
        if "@" not in address or any(c.isspace() for c in address):
            raise ValueError(f"{address!r} is not a mail address")
    return found


def positive_seconds(raw: str) -> float:
    value = non_negative_float(raw)
    if value == 0:
        raise ValueError("must be a number of seconds above 0")
    return value


def mail_settings() -> MailSettings | None:
    from app.queue.observe.notify import MailSettings

    server = env("MAIL_URL", None, mail_url, secret=True)
    if server is None:
        return None
    host, port, tls, username, password = server
    nobody: tuple[str, ...] = ()
    to = env("MAIL_TO", nobody, addresses)
    if not to:
        raise ConfigError("MAIL_TO must name at least one address when MAIL_URL is set")
    sender = env("MAIL_FROM", f"skiplock@{socket.gethostname()}", lambda raw: addresses(raw)[0])
    return MailSettings(host, port, to, sender, tls, username, password)


def notify_settings() -> NotifySettings:
    """Read only by the commands that check waits: smtplib and urllib stay out of workers."""
    from app.queue.observe.notify import NotifySettings

    return NotifySettings(
        thresholds=env("QUEUE_WAIT_THRESHOLDS", {}, wait_thresholds),
        webhook=env("QUEUE_NOTIFY_WEBHOOK", None, http_url, secret=True),
        mail=mail_settings(),
        cooldown=env("QUEUE_NOTIFY_COOLDOWN", 300.0, non_negative_float),
        check_every=env("QUEUE_NOTIFY_CHECK_EVERY", 60.0, positive_seconds),
    )


# ------------------------------------------------------------------------------- the queue


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


def json_object(raw: str, of: str) -> dict[str, object]:
    """A setting's JSON object; `of` says what it maps, for the error."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object: {of}")
    return value


def supervisors_object(raw: str) -> dict[str, object]:
    return json_object(raw, "supervisor name -> settings")


def supervisors() -> dict[str, object]:
    """SUPERVISORS with QUEUE_SUPERVISORS merged over it (unchecked: app.queue.supervisor
    checks every key)."""
    from app.queue.supervisor import merged

    return merged(SUPERVISORS, env("QUEUE_SUPERVISORS", {}, supervisors_object))
