"""Dashboard settings (SPEC §12), read from the environment after `.env` is loaded."""

from __future__ import annotations

from dataclasses import dataclass, field

from config import env, non_negative_float, positive_int


@dataclass(frozen=True)
class DashboardConfig:
    token: str | None = field(repr=False)
    """DASHBOARD_TOKEN: every request must carry it (None: the command makes one per start)."""
    health_max_wait: float
    """Seconds the oldest pending job may wait before /api/health answers 503."""
    metrics_days: int
    """Days of per-minute history kept in queue_metrics."""


def load() -> DashboardConfig:
    return DashboardConfig(
        token=env("DASHBOARD_TOKEN", None, str),
        health_max_wait=env("QUEUE_HEALTH_MAX_WAIT", 300.0, non_negative_float),
        metrics_days=env("QUEUE_METRICS_DAYS", 7, positive_int),
    )
