"""The Metrics page in a real browser (Playwright driving Chromium) against the real
`python artisan.py dashboard`, after a real worker ran jobs: the tables per class and per
queue, the last hour and day, a row's charts."""

from __future__ import annotations

import sqlalchemy as sa

from app.queue import dispatch
from tests.dashboard.test_browser import TOKEN, dashboard, page, shoot  # noqa: F401 - fixtures
from tests.jobs.basic import AlwaysFails, Record
from tests.support import work


def test_a_user_reads_metrics_per_class_and_per_queue(page, dashboard: str,  # noqa: F811
                                                     engine: sa.Engine) -> None:
    for n in range(3):
        dispatch(Record(f"m{n}", seconds=0.02), queue="alpha")
    dispatch(AlwaysFails("f"), queue="beta")
    assert work("--queue", "alpha,beta").returncode == 0
    page.goto(f"/login?token={TOKEN}")
    page.click("nav a:has-text('Metrics')")
    page.wait_for_url(f"{dashboard}/metrics/jobs")
    record = page.locator("tr[data-name=Record]")
    assert record.locator("td").nth(2).inner_text() == "3"  # processed
    assert page.locator("tr[data-name=AlwaysFails] td").nth(3).inner_text() == "1"  # failed
    page.wait_for_selector(".chart .u-wrap")  # the charts of every class

    with page.expect_response(lambda r: "/api/metrics/history" in r.url
                              and "class=Record" in r.url) as history:
        record.locator("a").click()
    assert sum(history.value.json()["processed"]) == 3  # the chart is Record's alone
    page.wait_for_selector("h2:has-text('Record')")
    page.wait_for_selector(".chart .u-wrap")
    shoot(page, "metrics-jobs")

    page.click(".tabs a:has-text('Queues')")
    page.wait_for_url(f"{dashboard}/metrics/queues")
    assert page.locator("tr[data-name=alpha] td").nth(2).inner_text() == "3"
    assert page.locator("tr[data-name=beta] td").nth(2).inner_text() == "2"  # both attempts
    page.click(".tabs a:has-text('last day')")
    page.wait_for_url(f"{dashboard}/metrics/queues?window=day")
    assert page.locator("tr[data-name=alpha]").count() == 1
    page.wait_for_selector(".chart .u-wrap")
    shoot(page, "metrics-queues")
