"""create_app(): the ASGI application, its middleware and its error pages."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app.dashboard import api, metrics, pages, supervisors
from app.dashboard.counts import QueueCounts
from app.dashboard.prometheus import metrics_endpoint
from app.dashboard.security import (
    SESSION_HOURS,
    SecurityHeaders,
    TokenGate,
    is_api,
    session_secret,
)
from app.dashboard.settings import DashboardSettings
from app.dashboard.store import DashboardStore
from app.dashboard.throttle import FailedTokens
from app.dashboard.views import error_page, outage
from app.queue.admin import QueueAdmin
from app.queue.errors import DatabaseUnavailable, QueueError

log = logging.getLogger("skiplock.dashboard")


def create_app(settings: DashboardSettings, engine: Engine) -> Starlette:
    routes = [*api.ROUTES, Route("/metrics", metrics_endpoint), *metrics.ROUTES, *pages.ROUTES,
              *supervisors.ROUTES,
              Mount("/static", StaticFiles(directory=Path(__file__).with_name("static")),
                    name="static")]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=session_secret(settings.token),
                   session_cookie="skiplock_dashboard", max_age=SESSION_HOURS * 3600,
                   same_site="strict", https_only=settings.secure_cookie),
        Middleware(TokenGate),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={
        api.FieldError: field_error, HTTPException: http_error,
        DatabaseUnavailable: database_down, QueueError: queue_error, Exception: server_error})
    app.state.settings = settings
    app.state.engine = engine
    app.state.admin = QueueAdmin(engine)
    app.state.store = DashboardStore(engine)
    app.state.wrong_tokens = FailedTokens(settings.wrong_tokens_per_minute)
    app.state.counts = QueueCounts(app.state.admin, settings.retry_after,
                                   settings.default_queue)
    return app


def answer(request: Request, status_code: int, sentence: str) -> Response:
    """JSON for the API and /metrics, a page with the sentence for a browser."""
    if is_api(request.url.path):
        return JSONResponse({"error": sentence}, status_code=status_code)
    return error_page(request, status_code, sentence)


async def field_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, api.FieldError)
    return JSONResponse({"error": str(exc), "field": exc.field}, status_code=422)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    sentence = exc.detail if exc.status_code != 404 else "There is no such page."
    response = answer(request, exc.status_code, sentence)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def database_down(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    return outage(request, exc)


async def queue_error(request: Request, exc: Exception) -> Response:
    return answer(request, 500, str(exc))


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("dashboard error on %s %s", request.method, request.url.path, exc_info=exc)
    return answer(request, 500, "The dashboard hit an unexpected error; its log has the details.")
