"""What the dashboard is told at start (it reads nothing from config/ itself)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DashboardSettings:
    token: str = field(repr=False)
    """Every request must carry it: bearer header (API, /metrics) or a logged-in session."""
    read_only: bool = False
    """Every action refused (403) and its button hidden."""
    health_max_wait: float = 300.0
    """Seconds the oldest pending job of a queue may wait before /api/health answers 503."""
    default_queue: str = "default"
    """QUEUE_DEFAULT: listed on the pages even while it holds no job."""
    retry_after: float = 90.0
    """QUEUE_RETRY_AFTER: a worker without a heartbeat for this long is not live."""
    job_packages: tuple[str, ...] = ("app.jobs",)
    """Where POST /api/jobs may take a job class from (QUEUE_JOB_PACKAGES, as workers do)."""
    schedule_module: str = "app.schedule"
    schedule_timezone: str = "UTC"
    wrong_tokens_per_minute: int = 10
    """Wrong tokens a client may send in a minute (bearer, login form or URL); past that
    every token it sends is answered 429 until the minute has passed."""
    secure_cookie: bool = False
    """Send the session cookie over HTTPS only (behind a TLS-terminating proxy)."""
