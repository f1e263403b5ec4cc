"""The Supervisors page (SPEC §16): each supervisor, its settings, paused or not, and its
processes per queue over time; the chart's data; the supervisors' share of /metrics.

Read-only: supervise:pause/continue/terminate stay commands, as Horizon's are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.dashboard.views import render
from app.queue.supervisor import SupervisorSettings
from app.queue.supervisor.store import HistoryPoint, SupervisorStore

WINDOWS = {"hour": 60, "day": 24 * 60}
SETTING_KEYS = [f.name for f in fields(SupervisorSettings) if f.name != "name"]
"""The settings in the order config/queue.py lists them (jsonb keeps its own key order)."""
AUTO_KEYS = ("min_processes", "max_processes", "balance_max_shift", "balance_cooldown",
             "auto_scaling_strategy")


def supervisors_page(request: Request) -> Response:
    rows = SupervisorStore(request.app.state.engine).supervisors()
    window = "day" if request.query_params.get("window") == "day" else "hour"
    return render(request, "supervisors.html", title="Supervisors", supervisors=rows,
                  shown_settings=shown_settings, window=window)


def shown_settings(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, value) of the settings that apply to this supervisor's balance, in config order:
    `processes` means nothing to auto, the auto keys nothing to simple or off."""
    auto = settings.get("balance") == "auto"
    shown = []
    for key in SETTING_KEYS:
        value = settings.get(key)
        if value is not None and applies(key, auto):
            shown.append((key, ", ".join(value) if isinstance(value, list) else str(value)))
    return shown


def applies(key: str, auto: bool) -> bool:
    if key in AUTO_KEYS:
        return auto
    return key != "processes" or not auto


def process_history(request: Request) -> JSONResponse:
    """{"minute": [unix seconds…], "pools": {pool: [processes…]}} of one supervisor (summed
    over its hosts), for the page's chart; a minute it did not run shows 0."""
    window = WINDOWS.get(request.query_params.get("window", "hour"), WINDOWS["hour"])
    name = request.query_params.get("supervisor", "")
    points = SupervisorStore(request.app.state.engine).history(window)
    return JSONResponse(chart_data([p for p in points if p.supervisor == name]))


def chart_data(points: list[HistoryPoint]) -> dict[str, Any]:
    minutes = sorted({p.minute for p in points})
    by_pool: dict[str, dict[Any, int]] = defaultdict(dict)
    for p in points:
        by_pool[p.pool][p.minute] = p.processes
    return {"minute": [int(m.timestamp()) for m in minutes],
            "pools": {pool: [values.get(m, 0) for m in minutes]
                      for pool, values in sorted(by_pool.items())}}


def supervisor_metrics(engine: Engine) -> Iterator[Metric]:
    """Processes per supervisor, host and queue (pool) of the supervisors alive now, and
    1 for each that is paused."""
    processes = GaugeMetricFamily(
        "skiplock_supervisor_processes", "Worker processes a running supervisor keeps, "
        "per queue (a balance-off supervisor's pool is named by all its queues)",
        labels=["supervisor", "host", "queue"])
    paused = GaugeMetricFamily("skiplock_supervisor_paused",
                               "1 when the supervisor is paused (supervise:pause)",
                               labels=["supervisor", "host"])
    for s in SupervisorStore(engine).supervisors():
        if s.state in ("stopped", "dead"):
            continue
        for pool, count in s.processes.items():
            processes.add_metric([s.name, s.host, pool], count)
        paused.add_metric([s.name, s.host], 1.0 if s.state == "paused" else 0.0)
    yield from (processes, paused)


ROUTES = [
    Route("/supervisors", supervisors_page),
    Route("/supervisors/history", process_history),
]
