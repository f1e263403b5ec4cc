"""The Supervisors page, its chart's data and /metrics' supervisor gauges, over rows written
by the statement a running `supervise` ticks with (SupervisorStore.tick)."""

from __future__ import annotations

from app.queue.supervisor import parse_all
from app.queue.supervisor.store import Beat, SupervisorStore
from tests.dashboard.conftest import BEARER


def tick(engine, name: str = "main", state: str = "running",
         processes: dict[str, int] | None = None) -> str:
    (settings,) = parse_all({name: {"queues": ["a", "b"], "max_processes": 4}},
                            ("database",), "default")
    beat = Beat(f"id-{name}", name, "host-1", 4242, "database", state, settings.as_json(),
                processes or {"a": 3, "b": 1})
    SupervisorStore(engine).tick([beat], ["a", "b"])
    return beat.id


def test_the_page_shows_each_supervisor_its_processes_settings_and_state(browser_client,
                                                                        engine):
    client, _ = browser_client
    tick(engine)
    tick(engine, "reports", state="paused", processes={"a": 0, "b": 0})
    page = client.get("/supervisors")
    assert page.status_code == 200
    assert "<td>main</td><td>host-1</td>" in page.text
    assert "a: 3, b: 1" in page.text
    assert '<span class="state paused">paused</span>' in page.text
    assert "<th>max_processes</th><td>4</td>" in page.text
    assert "<th>processes</th>" not in page.text, "auto has no fixed number of processes"
    assert 'data-process-chart="main"' in page.text
    assert 'data-process-chart="reports"' in page.text


def test_the_chart_data_gives_processes_per_queue_per_minute(browser_client, engine):
    client, _ = browser_client
    tick(engine, processes={"a": 1, "b": 1})
    tick(engine, processes={"a": 2, "b": 1})  # the same minute: its latest count
    data = client.get("/supervisors/history", params={"supervisor": "main"}).json()
    assert len(data["minute"]) == 1
    assert data["pools"] == {"a": [2], "b": [1]}
    assert client.get("/supervisors/history", params={"supervisor": "x"}).json() == {
        "minute": [], "pools": {}}


def test_metrics_export_processes_per_supervisor_and_queue(client, engine):
    tick(engine)
    text = client.get("/metrics", headers=BEARER).text
    assert 'skiplock_supervisor_processes{host="host-1",queue="a",supervisor="main"} 3.0' in text
    assert 'skiplock_supervisor_paused{host="host-1",supervisor="main"} 0.0' in text
