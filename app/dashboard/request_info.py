"""What a page and the security layer both read off a request: whether it is the API's, and
the session's CSRF token. Below both security.py (which renders refusals as pages) and
views.py (which puts the token in every form), so neither imports the other."""

from __future__ import annotations

import secrets

from starlette.requests import Request


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/") or path == "/metrics"


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (the login form has one too)."""
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(24)
    return str(request.session["csrf"])
