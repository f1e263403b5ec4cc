"""Login sessions end for good at logout (read-only too), wrong tokens are throttled per
client, and the command refuses a short token off loopback (issue 26, items 7 and 8)."""

from __future__ import annotations

import sqlalchemy as sa

from app.dashboard import DashboardSettings, create_app
from tests.dashboard.conftest import (
    BEARER,
    JOB_PACKAGES,
    TOKEN,
    TestClient,
    csrf_of,
    log_in,
    make_client,
)
from tests.support import artisan, count


def log_out(client: TestClient, csrf: str) -> None:
    answer = client.post("/logout", data={"csrf_token": csrf})
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")


def test_log_out_works_read_only_and_a_saved_cookie_no_longer_opens_a_page(queue,
                                                                          engine) -> None:
    with make_client(engine, read_only=True) as client:
        csrf = log_in(client)
        saved = dict(client.cookies)
        log_out(client, csrf)
        assert client.get("/queues").status_code == 303  # this browser: logged out
        client.cookies = saved  # a copy of the cookie taken before the logout
        assert client.get("/queues").headers["location"] == "/login?next=/queues"
        assert client.get("/api/queues").status_code == 401
    assert count(engine, "SELECT count(*) FROM dashboard_sessions") == 0


def test_logout_ends_only_its_own_session(client, engine) -> None:
    csrf = log_in(client)
    with make_client(engine) as other:
        log_in(other)
        log_out(client, csrf)
        assert other.get("/queues").status_code == 200
        assert client.get("/queues").status_code == 303


def test_the_sessions_table_holds_a_hash_of_the_cookies_id_not_the_id(client, engine) -> None:
    log_in(client)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT id_hash FROM dashboard_sessions")).scalar_one()
    cookie = client.cookies["skiplock_dashboard"]
    assert stored not in cookie and len(stored) == 64


def test_an_expired_session_row_opens_nothing(client, engine) -> None:
    log_in(client)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE dashboard_sessions SET expires_at = now() - interval '1s'"))
    assert client.get("/queues").status_code == 303


def test_a_session_made_before_sessions_were_rows_opens_nothing(queue, engine) -> None:
    # The cookie of an older dashboard: signed with the same key, {"auth": true}, no id.
    import base64
    import json

    from itsdangerous import TimestampSigner

    from app.dashboard.security import session_secret

    signer = TimestampSigner(session_secret(TOKEN))
    old = signer.sign(base64.b64encode(json.dumps({"auth": True}).encode())).decode()
    with make_client(engine) as client:
        client.cookies.set("skiplock_dashboard", old)
        assert client.get("/queues").status_code == 303


def test_wrong_bearer_tokens_are_429_after_ten_a_minute_even_the_right_one(queue,
                                                                          engine) -> None:
    with make_client(engine) as client:
        for _ in range(10):
            assert client.get("/api/queues",
                              headers={"Authorization": "Bearer nope"}).status_code == 401
        refused = client.get("/api/queues", headers=BEARER)
        assert refused.status_code == 429
        assert refused.json()["error"].startswith("Too many wrong tokens from your address")
        assert 0 < int(refused.headers["retry-after"]) <= 60
        app = client.app
    # Another client (another address) of the same dashboard is not held back.
    with TestClient(app, client=("192.0.2.7", 50000)) as elsewhere:
        assert elsewhere.get("/api/queues", headers=BEARER).status_code == 200


def test_wrong_login_form_and_url_tokens_are_429_after_ten_a_minute(queue, engine) -> None:
    with make_client(engine) as client:
        csrf = csrf_of(client.get("/login").text)
        for n in range(10):
            if n % 2:
                wrong = client.get("/login?token=nope")
            else:
                wrong = client.post("/login", data={"token": "nope", "csrf_token": csrf})
            assert wrong.status_code == 401, n
        page = client.post("/login", data={"token": TOKEN, "csrf_token": csrf})
        assert page.status_code == 429
        assert "Too many wrong tokens" in page.text
        assert client.get(f"/login?token={TOKEN}").status_code == 429
        assert client.get("/queues").status_code == 303  # not logged in by either


def test_a_session_is_not_held_back_by_its_addresss_wrong_tokens(queue, engine) -> None:
    with make_client(engine) as client:
        log_in(client)
        for _ in range(12):
            client.get("/api/queues", headers={"Authorization": "Bearer nope"})
        assert client.get("/queues").status_code == 200


def test_failures_older_than_the_window_no_longer_count() -> None:
    from app.dashboard.throttle import FailedTokens

    now = [1000.0]
    failures = FailedTokens(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        failures.record("a")
        now[0] += 10
    assert failures.wait_before_next("a") == 30  # the first failure is 30 s old
    assert failures.wait_before_next("b") == 0
    now[0] += 29
    assert failures.wait_before_next("a") == 1
    now[0] += 1
    assert failures.wait_before_next("a") == 0


def test_the_limit_is_a_setting(queue, engine) -> None:
    settings = DashboardSettings(token=TOKEN, job_packages=JOB_PACKAGES,
                                 wrong_tokens_per_minute=2)
    with TestClient(create_app(settings, engine)) as client:
        for _ in range(2):
            client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert client.get("/metrics", headers=BEARER).status_code == 429


def test_command_refuses_a_short_token_off_loopback(database_url) -> None:
    short = "a" * 31
    result = artisan("dashboard", "--host", "0.0.0.0", "--port", "8765",
                     env={"DASHBOARD_TOKEN": short}, timeout=30)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: refusing to listen on 0.0.0.0 with a DASHBOARD_TOKEN of 31 characters: off "
        "loopback it needs at least 32 (make one with: python -c \"import secrets; "
        "print(secrets.token_urlsafe(32))\")"]

