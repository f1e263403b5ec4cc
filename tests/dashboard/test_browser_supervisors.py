"""The Supervisors page in a real browser (the fixtures of test_browser.py): its chart drawn
from the supervisors' history, with no script error and no CSP refusal."""

from __future__ import annotations

import sqlalchemy as sa

from tests.dashboard.test_browser import TOKEN, dashboard, page, shoot  # noqa: F401
from tests.dashboard.test_supervisors import tick


def test_the_supervisors_page_charts_processes_per_queue(page, dashboard: str,  # noqa: F811
                                                         engine: sa.Engine) -> None:
    tick(engine)
    with engine.begin() as conn:  # an hour of history before this minute's tick
        conn.execute(sa.text(
            "INSERT INTO supervisor_processes SELECT date_trunc('minute', now()) - m * "
            "interval '1 minute', 'main', 'host-1', pool, 1 + (m / 10 + ascii(pool)) % 3 "
            "FROM generate_series(1, 59) m, unnest(ARRAY['a', 'b']) pool"))
    page.goto("/login?next=/supervisors")
    page.fill("input[name=token]", TOKEN)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{dashboard}/supervisors")
    page.wait_for_selector("[data-process-chart=main] .u-wrap")  # uPlot drew it
    legend = page.locator("[data-process-chart=main] .u-legend").inner_text()
    assert "a" in legend and "b" in legend
    assert "a: 3, b: 1" in page.locator("#supervisors-table").inner_text()
    shoot(page, "supervisors")
