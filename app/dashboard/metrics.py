"""Metrics per job class and per queue (SPEC §17, Horizon's Metrics): `GET /api/metrics`
and the Metrics page (/metrics/jobs, /metrics/queues), from the per-minute rows of
`queue_metrics` that workers write. (`/metrics` itself is Prometheus': prometheus.py.)"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.dashboard.api import FieldError
from app.dashboard.store import GroupMetrics
from app.dashboard.views import error_page, render

BY = ("class", "queue")
MAX_MINUTES = 43_200
"""The widest window ?minutes= takes: 30 days (rows older than QUEUE_METRICS_DAYS are gone)."""
WINDOWS = {"hour": 60, "day": 1440}
TABS = {"jobs": "class", "queues": "queue"}
"""The page's tabs (Horizon's names) and what each groups by."""


def metrics_query(params: Any) -> tuple[str, int]:
    by = params.get("by") or "class"
    if by not in BY:
        raise FieldError("by", "by must be class or queue")
    raw = params.get("minutes") or "60"
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_MINUTES):
        raise FieldError("minutes", f"minutes must be a whole number from 1 to {MAX_MINUTES:,}")
    return by, int(raw)


def group_json(row: GroupMetrics, minutes: int) -> dict[str, Any]:
    return {"name": row.name, "processed": row.processed, "failed": row.failed,
            "throughput": row.processed / minutes, "runtime_avg": row.runtime_avg,
            "runtime_max": row.runtime_max, "wait_avg": row.wait_avg, "wait_max": row.wait_max}


def get_metrics(request: Request) -> JSONResponse:
    by, minutes = metrics_query(request.query_params)
    rows = request.app.state.store.metrics_by(by, minutes)
    return JSONResponse({"by": by, "minutes": minutes,
                         "metrics": [group_json(row, minutes) for row in rows]})


# ------------------------------------------------------------------------------ the page


def duration(seconds: float | None) -> str:
    """1.4 ms, 0.25 s, 12.0 s: a runtime or a wait, read at a glance."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:,.1f} s"


def per_minute(rate: float) -> str:
    return f"{rate:.2f}" if rate < 10 else f"{rate:,.1f}"


def page_row(row: GroupMetrics, minutes: int) -> dict[str, Any]:
    return {"name": row.name, "processed": row.processed, "failed": row.failed,
            "throughput": per_minute(row.processed / minutes),
            "runtime_avg": duration(row.runtime_avg), "runtime_max": duration(row.runtime_max),
            "wait_avg": duration(row.wait_avg), "wait_max": duration(row.wait_max)}


def metrics_page(request: Request) -> Response:
    """A table of the window's figures, busiest first, and the charts of the row chosen with
    ?name= (of all when none is)."""
    tab = request.path_params["tab"]
    if tab not in TABS:
        return error_page(request, 404, "There is no such page.")
    window = "day" if request.query_params.get("window") == "day" else "hour"
    minutes = WINDOWS[window]
    rows = request.app.state.store.metrics_by(TABS[tab], minutes)
    chosen = request.query_params.get("name") or None
    return render(request, "metrics.html", title="Metrics", tab=tab, window=window,
                  rows=[page_row(row, minutes) for row in rows], chosen=chosen,
                  chart_queue=chosen if tab == "queues" else None,
                  chart_class=chosen if tab == "jobs" else None)


ROUTES = [
    Route("/api/metrics", get_metrics),
    Route("/metrics/{tab}", metrics_page),
]
