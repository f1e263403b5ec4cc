"""Rendering helpers: the templates, their filters, and the page for an error."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.templating import Jinja2Templates

from app.dashboard.request_info import csrf_token, is_api
from app.formatting import age
from app.queue.admin import class_name

NAV = (("/", "Overview"), ("/queues", "Queues"), ("/jobs", "Jobs"), ("/failed", "Failed"),
       ("/metrics/jobs", "Metrics"), ("/batches", "Batches"), ("/workers", "Workers"),
       ("/supervisors", "Supervisors"), ("/schedule", "Schedule"))


def when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def thousands(value: int) -> str:
    """980,000 rather than 980000: counts of a large queue read at a glance."""
    return f"{value:,}"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.filters.update(age=age, when=when, pretty_json=pretty_json,
                             short_class=class_name, thousands=thousands)


def render(request: Request, template: str, status_code: int = 200,
           **context: Any) -> Response:
    flash = request.session.pop("flash", None) if "session" in request.scope else None
    return templates.TemplateResponse(request, template, {
        "nav": NAV, "read_only": request.app.state.settings.read_only,
        "csrf": csrf_token(request) if "session" in request.scope else "",
        "flash": flash, **context}, status_code=status_code)


def error_page(request: Request, status_code: int, sentence: str) -> Response:
    """One sentence, no traceback, with the navigation so the user can go on."""
    try:
        return render(request, "error.html", status_code, message=sentence,
                      title=f"Error {status_code}")
    except Exception:  # noqa: BLE001 - the error page must not fail in turn
        return HTMLResponse(f"<p>{status_code}: the dashboard could not answer.</p>",
                            status_code=status_code)


def outage(request: Request, exc: Exception) -> Response:
    """The answer while the database cannot be reached: JSON for the API, else a page."""
    sentence = (f"The queue's database cannot be reached ({exc}); this page works again as "
                "soon as it answers.")
    if is_api(request.url.path):
        return JSONResponse({"error": sentence}, status_code=503)
    return error_page(request, 503, sentence)


def flash(request: Request, message: str) -> None:
    request.session["flash"] = message
