"""A real browser (Playwright driving Debian's Chromium) against the real
`python artisan.py dashboard`: log in, watch counts change, retry, pause a queue (a running
worker stops claiming from it) and resume it, bulk-forget.
Screenshots of each page go to storage/screenshots/ for humans (not asserted on)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.queue import batch, dispatch
from tests.dashboard.conftest import add_failed
from tests.dashboard.test_batches import add_batch
from tests.jobs.basic import HalfwayUntil, Record
from tests.support import JOB_PACKAGES, ROOT, count, ledger, start_worker, wait_for

TOKEN = "browser-test-token-83d1"
SHOTS = ROOT / "storage" / "screenshots"
PHONE = {"width": 390, "height": 844}


def chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def dashboard(queue, database_url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DASHBOARD_TOKEN": TOKEN,
           "QUEUE_JOB_PACKAGES": JOB_PACKAGES}
    server = subprocess.Popen([sys.executable, "artisan.py", "dashboard", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        if not wait_for(lambda: answers(port) or server.poll() is not None, timeout=30):
            pytest.fail("the dashboard did not start listening within 30 s")
        assert server.poll() is None, server.communicate(timeout=5)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate(timeout=10)


@pytest.fixture
def page(dashboard: str):
    executable = chromium()
    if executable is None:
        pytest.skip("no Chromium: apt-get install -y chromium (Debian's package)")
    sync_playwright = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    ).sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900},
                                          base_url=dashboard)
            context.set_default_timeout(15_000)
            tab = context.new_page()
            tab.on("dialog", lambda dialog: dialog.accept())  # the data-confirm questions
            errors: list[str] = []
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            yield tab
            assert errors == []  # no CSP refusal, no script error on any page
        finally:
            browser.close()


def shoot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)


def test_a_user_runs_the_queue_from_the_browser(page, dashboard: str,
                                               engine: sa.Engine) -> None:
    with engine.begin() as conn:  # an hour of history, for the charts in the screenshots
        conn.execute(sa.text(
            "INSERT INTO queue_metrics SELECT date_trunc('minute', now()) - m * interval "
            "'1 minute', 'default', 'tests.jobs.basic.Record', 900 + 300 * sin(m / 6.0), "
            "m % 7, 90 + 20 * cos(m / 9.0), 2.5, 40 + 30 * sin(m / 11.0), 9 "
            "FROM generate_series(0, 59) m"))
    page.goto("/")
    assert page.url.endswith("/login?next=/")
    shoot(page, "login")
    page.fill("input[name=token]", TOKEN)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{dashboard}/")
    pending = page.locator("[data-count=pending]")
    assert pending.inner_text() == "0"

    dispatch(Record("from-the-test"), queue="default")
    pending.filter(has_text="1").wait_for()  # the live refresh brought the new count
    page.wait_for_selector(".chart .u-wrap")  # uPlot drew the charts
    shoot(page, "overview")

    # It fails no more once retried (a Record): the worker started below runs it.
    add_failed(engine, "01FAILEDJOB0000000000000001", job_class="tests.jobs.basic.Record")
    page.goto("/failed")
    page.click("text=01FAILEDJOB0000000000000001")
    page.wait_for_selector("text=RuntimeError: boom")
    shoot(page, "job-failed")
    page.click("button:has-text('Retry')")
    page.wait_for_selector("text=pushed back onto the queue")
    assert count(engine, "SELECT count(*) FROM jobs "
                         "WHERE id = '01FAILEDJOB0000000000000001'") == 1

    worker = start_worker("--queue", "default", "--sleep", "0.2", "--max-time", "120")
    try:
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, timeout=30)
        page.goto("/queues")
        page.click("tr[data-queue=default] button:has-text('Pause')")
        page.wait_for_selector("text=Queue default paused")
        assert count(engine, "SELECT count(*) FROM paused_queues WHERE queue = 'default'") == 1
        shoot(page, "queues")
        dispatch(Record("while-paused"), queue="default")
        assert not wait_for(lambda: ledger(engine, "while-paused"), timeout=3)  # not claimed
        page.click("tr[data-queue=default] button:has-text('Resume')")
        assert wait_for(lambda: ledger(engine, "while-paused"), timeout=30)
    finally:
        worker.terminate()
        worker.communicate(timeout=30)

    for n in range(3):
        add_failed(engine, f"01BULK{n:020d}")
    page.goto("/failed")
    shoot(page, "failed")
    page.check("input[data-select-all=ids]")
    page.click("button:has-text('Forget selected')")
    page.wait_for_selector("text=3 failed jobs forgotten.")
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0

    add_batch(engine, "01BATCH0000000000000000001", "import 42", total=1000, pending=380,
              failed_ids=("01FAILEDJOB0000000000000002",))
    for path, name in (("/jobs", "jobs"), ("/batches", "batches"),
                       ("/batches/01BATCH0000000000000000001", "batch"),
                       ("/workers", "workers"), ("/schedule", "schedule")):
        page.goto(path)
        shoot(page, name)


def test_the_job_page_shows_progress_as_the_job_reports_it(page, dashboard: str, tmp_path,
                                                          engine: sa.Engine) -> None:
    go_on = tmp_path / "go-on"
    job_id = dispatch(HalfwayUntil(str(go_on)), queue="slow")
    page.goto(f"/login?token={TOKEN}")
    page.goto(f"/jobs/{job_id}")
    assert page.locator("progress").count() == 0  # not started: no progress yet
    worker = start_worker("--queue", "slow", "--sleep", "0.2", "--max-time", "120")
    try:
        # No reload: the page's live refresh brings the bar the job reported.
        page.locator(".progress", has_text="50.0% · half way").wait_for()
        assert page.locator("progress").get_attribute("value") == "50.0"
        shoot(page, "job-running")
        go_on.touch()
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, timeout=30)
    finally:
        go_on.touch()
        worker.terminate()
        worker.communicate(timeout=30)


def test_a_user_cancels_a_job_and_a_batch_by_clicking(page, dashboard: str,
                                                     engine: sa.Engine) -> None:
    job_id = dispatch(Record("never-runs"), queue="default")
    page.goto(f"/login?token={TOKEN}")
    page.goto(f"/jobs/{job_id}")
    page.click("button:has-text('Cancel')")  # its data-confirm question is accepted
    page.wait_for_selector(f"text=Job {job_id} cancelled: removed from its queue")
    page.goto("/failed")
    row = page.locator("tr", has_text=job_id)
    row.locator("text=JobCancelled: cancelled while waiting").wait_for()
    assert count(engine, "SELECT count(*) FROM jobs") == 0

    b = batch([Record("member-1"), Record("member-2")]).name("import 7").dispatch()
    page.goto(f"/batches/{b.id}")
    shoot(page, "batch-running")
    page.click("button:has-text('Cancel')")
    page.wait_for_selector(f"text=Batch {b.id} cancelled")
    page.locator(".state.cancelled").wait_for()
    assert page.locator("button:has-text('Cancel')").count() == 0
    assert b.fresh().cancelled
    assert ledger(engine) == []  # neither the job nor the batch's members ever ran


def scrolls_with_a_visible_hint(page, path: str) -> None:
    """Every table of the page is wider than a phone and scrolls sideways, and a hint that
    says so is in view above it."""
    page.goto(path)
    tables = page.locator("main table")
    assert tables.count() >= 1, path
    for n in range(tables.count()):
        table = tables.nth(n)
        assert table.evaluate("t => t.scrollWidth > t.clientWidth"), (path, n)
        assert table.evaluate("t => getComputedStyle(t).overflowX") == "auto", (path, n)
        hint = page.locator(f"[data-scroll-hint='{n}']")
        hint.wait_for()
        assert hint.is_visible() and "scroll sideways" in hint.inner_text().lower(), (path, n)


def test_phone_width_tables_scroll_and_say_so(page, dashboard: str, engine: sa.Engine) -> None:
    dispatch(Record("waiting"), queue="a-queue-with-a-rather-long-name")
    add_failed(engine, "01FAILEDJOB0000000000000009", job_class="tests.jobs.basic.Record")
    add_batch(engine, "01BATCH0000000000000000009", "nightly import of the catalogue",
              total=1000, pending=380)
    page.goto(f"/login?token={TOKEN}")
    page.set_viewport_size(PHONE)
    for path in ("/queues", "/failed", "/batches"):
        scrolls_with_a_visible_hint(page, path)
    page.goto("/queues")
    page.screenshot(path=str(SHOTS / "queues-phone-hint.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/queues")
    assert page.locator("[data-scroll-hint]").filter(visible=True).count() == 0  # room: none


def test_with_no_live_worker_the_pages_say_so(page, dashboard: str) -> None:
    dispatch(Record("waiting"), queue="default")
    page.goto(f"/login?token={TOKEN}")
    page.goto("/")
    page.locator(".warning", has_text="No live worker").wait_for()
    page.goto("/queues")
    state = page.locator("tr[data-queue=default] td.queue-state")
    assert state.inner_text() == "no live worker"
    worker = start_worker("--queue", "default", "--sleep", "0.2", "--max-time", "120")
    try:
        state.filter(has_text="running").wait_for(timeout=30_000)  # the live refresh
        page.goto("/")
        page.wait_for_selector("[data-count=workers]:has-text('1')")
        assert page.locator(".warning", has_text="No live worker").count() == 0
    finally:
        worker.terminate()
        worker.communicate(timeout=30)


def test_charts_read_24_hour_utc_times_and_pending_is_not_green(page, dashboard: str,
                                                              engine: sa.Engine) -> None:
    page.goto(f"/login?token={TOKEN}")
    page.goto("/")
    page.wait_for_selector(".chart .u-wrap")
    labels = page.evaluate("document.querySelector('[data-chart=throughput]')"
                           ".uplot.axes[0]._values")
    assert labels and all(re.fullmatch(r"\d\d:\d\d", label) for label in labels), labels
    chart = page.locator("[data-chart=throughput] .u-over")
    chart.hover()
    legend = page.locator("[data-chart=throughput] .u-legend .u-series").first
    shown = legend.locator(".u-value").inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", shown), shown
    pending = page.locator(".card.pending .count").evaluate("e => getComputedStyle(e).color")
    green = page.evaluate("getComputedStyle(document.documentElement)"
                          ".getPropertyValue('--ok')")
    assert pending != hex_to_rgb(green.strip()), pending


def hex_to_rgb(value: str) -> str:
    red, green, blue = (int(value[n:n + 2], 16) for n in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"
