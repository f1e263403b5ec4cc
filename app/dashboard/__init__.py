"""The dashboard: web pages, a JSON API under /api and Prometheus metrics, in one ASGI app.

`create_app(settings, engine)` builds it; `python artisan.py dashboard` serves it with
uvicorn. It reads and acts through QueueAdmin and JobStore like the CLI does, and its own
DashboardStore for what only it needs. Nothing in app/queue imports this package.
"""

from __future__ import annotations

from app.dashboard.app import create_app
from app.dashboard.settings import DashboardSettings

__all__ = ["DashboardSettings", "create_app"]
