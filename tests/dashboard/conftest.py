"""The dashboard app on the test database, through Starlette's TestClient (no server)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.dashboard import DashboardSettings, create_app

TOKEN = "test-token-5b1f"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
JOB_PACKAGES = ("app.jobs", "tests.jobs")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from starlette.testclient import TestClient


def make_client(engine: sa.Engine, **settings: object) -> TestClient:
    values: dict[str, object] = {"token": TOKEN, "job_packages": JOB_PACKAGES, **settings}
    app = create_app(DashboardSettings(**values), engine)  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


@pytest.fixture
def client(queue: object, engine: sa.Engine) -> Iterator[TestClient]:
    with make_client(engine) as test_client:
        yield test_client


def log_in(client: TestClient) -> str:
    """Log in through the form, as a browser does; return the session's CSRF token."""
    page = client.get("/login")
    csrf = csrf_of(page.text)
    answer = client.post("/login", data={"token": TOKEN, "csrf_token": csrf})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/queues").text)


def csrf_of(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


@pytest.fixture
def browser_client(client: TestClient) -> tuple[TestClient, str]:
    """A logged-in session and its CSRF token."""
    return client, log_in(client)


def add_failed(engine: sa.Engine, job_id: str, queue: str = "default",
               job_class: str = "tests.jobs.basic.AlwaysFails",
               data: dict[str, object] | None = None, encrypted: bool = False) -> None:
    """A failed job as a worker leaves it (the worker's path is tested elsewhere)."""
    payload: dict[str, object] = {"job": job_class, "data": data or {"tag": job_id}}
    if encrypted:
        payload["encrypted"] = True
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO failed_jobs (id, queue, payload, attempts, exception) "
            "VALUES (:id, :queue, CAST(:payload AS jsonb), 3, :exception)"),
            {"id": job_id, "queue": queue, "payload": json.dumps(payload),
             "exception": "Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                          "RuntimeError: boom " + job_id})
