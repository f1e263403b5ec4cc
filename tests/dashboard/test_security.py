"""Who may do what: token, session, CSRF, read-only, headers, the non-loopback refusal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from starlette.routing import Route

from app.console.commands.dashboard import is_loopback
from app.dashboard.views import NAV
from tests.dashboard.conftest import BEARER, TOKEN, add_failed, csrf_of, log_in, make_client
from tests.dashboard.test_browser import answers, free_port
from tests.support import ROOT, artisan, count, wait_for


def state_changing_routes(client) -> list[tuple[str, str]]:
    """Every route that changes anything, found on the app (a new one is covered at once)."""
    found = []
    for route in client.app.routes:
        if isinstance(route, Route) and getattr(route.endpoint, "changes_state", False):
            path = route.path.replace("{id}", "F1")
            found.extend((method, path) for method in sorted(route.methods - {"HEAD"}))
    return found


def test_every_state_changing_route_is_known(client) -> None:
    assert set(state_changing_routes(client)) == {
        ("POST", "/logout"), ("POST", "/queues/pause"), ("POST", "/queues/resume"),
        ("POST", "/queues/clear"), ("POST", "/jobs/F1/retry"), ("POST", "/jobs/F1/forget"),
        ("POST", "/failed/retry"), ("POST", "/failed/forget"), ("POST", "/api/jobs"),
        ("POST", "/api/jobs/F1/retry"), ("DELETE", "/api/failed/F1"),
        ("POST", "/jobs/F1/cancel"), ("POST", "/batches/F1/cancel"), ("POST", "/batches/F1/retry"),
        ("POST", "/api/jobs/F1/cancel"), ("POST", "/api/batches/F1/cancel"),
        ("POST", "/api/batches/F1/retry")}


def test_every_state_changing_route_refuses_without_the_token(queue, engine) -> None:
    add_failed(engine, "F1")
    client = make_client(engine, wrong_tokens_per_minute=1000)  # 17 wrong tokens, all 401
    for method, path in state_changing_routes(client):
        answer = client.request(method, path, data={"queue": "default", "all": "1"})
        assert answer.status_code == 401, (method, path)
        wrong = client.request(method, path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401, (method, path)
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1


def test_every_page_form_refuses_without_the_csrf_token(client, engine) -> None:
    add_failed(engine, "F1")
    good = log_in(client)
    for method, path in state_changing_routes(client):
        if path.startswith("/api/"):
            # A session cookie alone never reaches an API action (no CSRF token to check).
            assert client.request(method, path).status_code == 401, path
            continue
        for data in ({"queue": "default", "all": "1"},
                     {"queue": "default", "all": "1", "csrf_token": good + "x"}):
            answer = client.request(method, path, data=data)
            assert answer.status_code == 403, (method, path, data)
            assert "CSRF" in answer.text
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1
    assert count(engine, "SELECT count(*) FROM paused_queues") == 0


def test_pages_need_a_login_and_the_api_a_bearer(client) -> None:
    assert client.get("/queues").headers["location"] == "/login?next=/queues"
    for path in ("/api/queues", "/api/health", "/metrics", "/api/openapi.json"):
        answer = client.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/queues", headers=BEARER).status_code == 200


def test_login_with_a_wrong_token_is_refused(client) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"token": "wrong", "csrf_token": csrf})
    assert answer.status_code == 401
    assert "not the dashboard" in answer.text
    assert client.get("/queues").status_code == 303


def test_login_url_with_the_token_logs_in_and_a_new_token_logs_out(client, engine) -> None:
    assert client.get(f"/login?token={TOKEN}").headers["location"] == "/"
    assert client.get("/queues").status_code == 200
    with make_client(engine, token="another") as other:
        other.cookies = client.cookies  # the same browser, after a restart with a new token
        assert other.get("/queues").status_code == 303


def test_read_only_refuses_every_action_and_hides_the_buttons(queue, engine) -> None:
    add_failed(engine, "F1")
    with make_client(engine, read_only=True) as client:
        csrf = log_in(client)
        for method, path in state_changing_routes(client):
            if path == "/logout":
                continue
            headers = BEARER if path.startswith("/api/") else {}
            answer = client.request(method, path, headers=headers,
                                    data={"queue": "default", "csrf_token": csrf, "all": "1"})
            assert answer.status_code == 403, (method, path)
        page = client.get("/jobs/F1").text
        assert "read-only" in page
        assert "/jobs/F1/retry" not in page
        assert "/queues/pause" not in client.get("/queues").text
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1


def test_security_headers_and_no_inline_script_or_style(browser_client, engine) -> None:
    client, _csrf = browser_client
    add_failed(engine, "F1")
    for path in ("/", "/queues", "/jobs", "/jobs/F1", "/failed", "/batches", "/batches/B1",
                 "/workers", "/schedule", "/login", "/nowhere", "/static/dashboard.js"):
        answer = client.get(path)
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        if answer.headers["content-type"].startswith("text/html"):
            assert re.search(r"<script(?![^>]*\bsrc=)", answer.text) is None, path
            assert "style=" not in answer.text, path
            assert "<style" not in answer.text, path


def test_no_password_appears_in_any_page(queue, engine, monkeypatch) -> None:
    # The engine's URL carries a password here (the test server trusts any): no page, API
    # answer or error may show it, nor the token.
    from app.database import make_engine

    url = engine.url.set(password="hunter2-secret")
    with_password = make_engine(url.render_as_string(hide_password=False))
    add_failed(engine, "F1")
    try:
        with make_client(with_password) as client:
            log_in(client)
            texts = [client.get(path).text for path in (
                "/", "/queues", "/jobs", "/jobs/F1", "/failed", "/batches", "/workers",
                "/schedule")]
            texts += [client.get(path, headers=BEARER).text for path in (
                "/api/queues", "/api/jobs", "/api/jobs/F1", "/api/batches", "/api/health",
                "/metrics")]
        down = make_engine(url.set(port=1).render_as_string(hide_password=False))
        with make_client(engine) as up, make_client(down) as client:
            log_in(up)
            client.cookies = up.cookies  # logged in before the database went away
            texts += [client.get("/queues").text, client.get("/api/queues", headers=BEARER).text]
        for text in texts:
            assert "hunter2-secret" not in text
            assert TOKEN not in text
    finally:
        with_password.dispose()


def test_database_outage_is_503_with_one_sentence(queue, engine) -> None:
    from app.database import make_engine

    # An address where nothing listens (the test database may be on a Unix socket).
    down = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    with make_client(engine) as up, make_client(down) as client:
        log_in(up)
        client.cookies = up.cookies  # logged in before the database went away
        login = client.post("/login", data={"token": TOKEN, "csrf_token": csrf_of(
            client.get("/login").text)})
        assert login.status_code == 503 and "cannot be reached" in login.text
        for path in [path for path, _label in NAV] + ["/jobs/F1", "/batches/B1"]:
            page = client.get(path)
            assert page.status_code == 503, path
            assert "cannot be reached" in page.text and "Traceback" not in page.text, path
        for path in ("/api/queues", "/api/jobs", "/api/batches", "/api/batches/B1", "/metrics"):
            api = client.get(path, headers=BEARER)
            assert api.status_code == 503, path
            assert "cannot connect to database at 127.0.0.1:1" in api.json()["error"], path
        health = client.get("/api/health", headers=BEARER)
        assert health.status_code == 503
        assert health.json()["reasons"][0].startswith("database unreachable")


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("::1", True),
                                           ("localhost", True), ("0.0.0.0", False),
                                           ("192.168.1.5", False), ("example.com", False)])
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_command_refuses_a_public_address_without_a_token(database_url) -> None:
    result = artisan("dashboard", "--host", "0.0.0.0", "--port", "8765",
                     env={"DASHBOARD_TOKEN": ""}, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: refusing to listen on 0.0.0.0 without DASHBOARD_TOKEN: anyone who can reach "
        "it could run and delete jobs (set DASHBOARD_TOKEN, or use 127.0.0.1)"]


def test_command_without_a_token_prints_a_login_url_for_this_run(database_url) -> None:
    port = free_port()
    env = {**os.environ, "DASHBOARD_TOKEN": ""}
    server = subprocess.Popen([sys.executable, "artisan.py", "dashboard", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        assert wait_for(lambda: answers(port), timeout=30)
        line = server.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/login\?token=[\w-]+", line).group(0)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(url, timeout=10) as page:  # follows the redirect, with the cookie
            assert page.url == f"http://127.0.0.1:{port}/"
            assert "Overview" in page.read().decode()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/queues", timeout=10)
            raise AssertionError("the API answered without the token")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401
    finally:
        server.terminate()
        server.communicate(timeout=10)
