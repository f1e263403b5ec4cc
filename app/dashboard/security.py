"""Who may do what: the token, the login session, CSRF, read-only, the security headers.

Every request carries DASHBOARD_TOKEN: as `Authorization: Bearer …` (the API, /metrics), or
through a session cookie signed with a key derived from it, set by the login form (pages; the
pages' own script reads the API with it, for GET only). The cookie holds a random session id
whose hash is a row of dashboard_sessions: logging out deletes the row, so a copy of the
cookie opens nothing afterwards. Changing the token logs every session out. Forms that change
anything carry the session's CSRF token. Wrong tokens are counted per client (throttle.py).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.dashboard.request_info import csrf_token, is_api
from app.dashboard.views import error_page
from app.queue.errors import DatabaseUnavailable

PUBLIC_PATHS = ("/login", "/static/")
"""Reachable without the token: the login form and the vendored files it needs."""

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison: how long it takes says nothing about how much matched."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


def session_secret(token: str) -> str:
    """The key that signs session cookies: derived from the token, so a new token logs
    everyone out, and the cookie never holds the token itself."""
    return hmac.new(token.encode(), b"skiplock dashboard session", hashlib.sha256).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(24)


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


SESSION_HOURS = 12
"""How long a login lasts (the cookie's max-age and its dashboard_sessions row's)."""


def session_hash(session_id: str) -> str:
    """What dashboard_sessions stores: a reader of the table cannot rebuild the cookie."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(request: Request) -> None:
    """Log in (database work: call it from the thread pool)."""
    session_id = secrets.token_urlsafe(32)
    request.app.state.store.open_session(session_hash(session_id), SESSION_HOURS)
    request.session.clear()  # a fresh session: no fixation of one made before the login
    request.session.update(auth=True, sid=session_id, csrf=secrets.token_urlsafe(24))


def end_session(request: Request) -> None:
    """Log out for good: the row goes, so no copy of the cookie works any more."""
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        request.app.state.store.close_session(session_hash(session_id))
    request.session.clear()


async def session_is_live(request: Request) -> bool:
    """Whether the request's session cookie is a login that has not ended (one query)."""
    session_id = request.session.get("sid")
    if request.session.get("auth") is not True or not isinstance(session_id, str):
        return False
    return bool(await run_in_threadpool(request.app.state.store.session_is_live,
                                        session_hash(session_id)))


def client_of(request: Request) -> str:
    """Whom wrong tokens are counted against: the peer's address; behind a proxy on
    127.0.0.1, the client's from X-Forwarded-For (uvicorn trusts that proxy's header),
    behind any other proxy the proxy's, so that all its users share one count."""
    return request.client.host if request.client else "unknown"


def held_back(request: Request) -> Response | None:
    """The 429 answer while the client has sent too many wrong tokens lately, else None."""
    wait = request.app.state.wrong_tokens.wait_before_next(client_of(request))
    if not wait:
        return None
    limit = request.app.state.settings.wrong_tokens_per_minute
    sentence = (f"Too many wrong tokens from your address ({limit} in a minute): try again "
                f"in {math.ceil(wait)} s.")
    headers = {"Retry-After": str(math.ceil(wait))}
    if is_api(request.url.path):
        return JSONResponse({"error": sentence}, status_code=429, headers=headers)
    response = error_page(request, 429, sentence)
    response.headers.update(headers)
    return response


def is_wrong_token(request: Request, given: object) -> bool:
    """Whether `given` is not the dashboard's token; a wrong one counts against the client
    (ask held_back first)."""
    if isinstance(given, str) and token_matches(given, request.app.state.settings.token):
        return False
    request.app.state.wrong_tokens.record(client_of(request))
    return True


class SecurityHeaders:
    """Adds the security headers to every response, errors and static files included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TokenGate(BaseHTTPMiddleware):
    """Lets a request through only with the token (bearer) or a live login session."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if path.startswith(PUBLIC_PATHS):
            return await call_next(request)
        given = bearer(request)
        if given is not None:
            return await self.by_bearer(request, call_next, given)
        try:
            live = await session_is_live(request)
        except DatabaseUnavailable as exc:
            from app.dashboard.views import outage  # views imports this module

            return outage(request, exc)
        if not live and "sid" in request.session:
            request.session.clear()  # ended or expired: the browser drops the dead cookie
        if live and (not is_api(path) or request.method in ("GET", "HEAD")):
            return await self.through(request, call_next)
        return self.refused(request)

    async def by_bearer(self, request: Request, call_next: RequestResponseEndpoint,
                        given: str) -> Response:
        refusal = held_back(request)
        if refusal is not None:
            return refusal
        if is_wrong_token(request, given):
            return self.refused(request)
        return await self.through(request, call_next)

    async def through(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if holds_nul(request):
            return refusal(request, 422, NUL_REFUSED)
        return await call_next(request)

    @staticmethod
    def refused(request: Request) -> Response:
        if is_api(request.url.path) or request.method not in ("GET", "HEAD"):
            return JSONResponse({"error": "this needs the dashboard token: send "
                                 "'Authorization: Bearer <DASHBOARD_TOKEN>'"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


NUL_REFUSED = "a NUL character cannot be part of a queue, class or id (PostgreSQL text)"


def holds_nul(request: Request) -> bool:
    """A NUL in the path or the query: no name or id can hold one (PostgreSQL refuses it)."""
    return "\x00" in request.url.path or any("\x00" in key or "\x00" in value
                                            for key, value in request.query_params.multi_items())


def refusal(request: Request, status_code: int, sentence: str) -> Response:
    """An answer from the middleware (outside the app's exception handlers)."""
    if is_api(request.url.path):
        return JSONResponse({"error": sentence}, status_code=status_code)
    return error_page(request, status_code, sentence[0].upper() + sentence[1:] + ".")


def refuse_if_read_only(request: Request) -> None:
    if request.app.state.settings.read_only:
        raise HTTPException(403, "the dashboard runs read-only (--read-only): actions are off")


FormHandler = Callable[[Request, FormData], Response]


def form_action(handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
    """A page's state-changing POST: refused when read-only or without the session's CSRF
    token; the handler (database work) then runs in the thread pool."""
    return _checked_form(handler, allowed_read_only=False)


def session_action(handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
    """A POST about the session itself (logging out): CSRF-checked like any form, and allowed
    read-only, which is about the queue, not about who is logged in."""
    return _checked_form(handler, allowed_read_only=True)


def _checked_form(handler: FormHandler, allowed_read_only: bool
                  ) -> Callable[[Request], Awaitable[Response]]:
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        if not allowed_read_only:
            refuse_if_read_only(request)
        form = await request.form()
        if not token_matches(_text(form.get("csrf_token")), csrf_token(request)):
            raise HTTPException(403, "the form's CSRF token is missing or stale: reload the "
                                "page and try again")
        if any(isinstance(value, str) and "\x00" in value for _key, value in form.multi_items()):
            raise HTTPException(422, NUL_REFUSED)
        return await run_in_threadpool(handler, request, form)

    endpoint.changes_state = True  # type: ignore[attr-defined]
    return endpoint


MAX_BODY = 2**20
"""Bytes an API action's body may hold: a dispatch's arguments are a job's, not a file's."""

BODY_TOO_LARGE = "The body is larger than the 1 MiB a dispatch through the API may send."


async def limited_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused (413) as soon as it passes `limit`: by its Content-Length when it
    declares one, else as it arrives, so a huge body is never held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, BODY_TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, BODY_TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


def api_action(handler: Callable[[Request, bytes], Response]
               ) -> Callable[[Request], Awaitable[Response]]:
    """An API call that changes state: refused when read-only. (A session cookie alone never
    reaches one: TokenGate lets it through for GET only, so no CSRF token is needed here.)"""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        refuse_if_read_only(request)
        body = await limited_body(request)
        return await run_in_threadpool(handler, request, body)

    endpoint.changes_state = True  # type: ignore[attr-defined]
    return endpoint


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
