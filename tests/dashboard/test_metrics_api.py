"""Metrics per job class and per queue (SPEC §17): GET /api/metrics, the history of one class,
/metrics' `class` label and its bound, the Metrics page; from what a real worker wrote to
queue_metrics (and, where a window's edge is the point, from rows written here)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.dashboard import prometheus
from app.queue import dispatch
from tests.dashboard.conftest import BEARER, log_in
from tests.jobs.basic import AlwaysFails, Record
from tests.support import work

RECORD = "Record"
FAILS = "AlwaysFails"
"""queue_metrics' job_class: the class's __qualname__, as the worker records it."""


@pytest.fixture
def worked(queue, engine) -> None:
    """A real worker's run: 4 Records of 50 ms on alpha, 2 AlwaysFails (2 attempts each,
    then failed) on beta and 1 Record on beta."""
    for n in range(4):
        dispatch(Record(f"r{n}", seconds=0.05), queue="alpha")
    for n in range(2):
        dispatch(AlwaysFails(f"f{n}"), queue="beta")
    dispatch(Record("rb"), queue="beta")
    result = work("--queue", "alpha,beta")
    assert result.returncode == 0, result.stderr


def by_name(answer: dict) -> dict[str, dict]:
    return {row["name"]: row for row in answer["metrics"]}


def test_metrics_by_class_sum_each_class_over_its_queues(client, worked) -> None:
    answer = client.get("/api/metrics?by=class", headers=BEARER)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["by"], body["minutes"]) == ("class", 60)
    assert [row["name"] for row in body["metrics"]] == [RECORD, FAILS]  # busiest first
    record, fails = by_name(body)[RECORD], by_name(body)[FAILS]
    assert (record["processed"], record["failed"]) == (5, 0)
    assert (fails["processed"], fails["failed"]) == (4, 2)  # every attempt; 2 jobs failed
    assert record["throughput"] == 5 / 60
    assert 0.05 <= record["runtime_max"] < 5 and 0.04 <= record["runtime_avg"] <= 0.05 * 5
    assert record["wait_avg"] >= 0 and record["wait_max"] >= record["wait_avg"]


def test_metrics_by_queue_sum_each_queue_over_its_classes(client, worked) -> None:
    body = client.get("/api/metrics?by=queue&minutes=5", headers=BEARER).json()
    assert (body["by"], body["minutes"]) == ("queue", 5)
    alpha, beta = by_name(body)["alpha"], by_name(body)["beta"]
    assert (alpha["processed"], alpha["failed"], beta["processed"], beta["failed"]) == (
        4, 0, 5, 2)
    assert alpha["throughput"] == 4 / 5
    assert alpha["runtime_avg"] >= 0.05


def test_prometheus_has_a_class_label_for_what_the_worker_ran(client, worked) -> None:
    text = client.get("/metrics", headers=BEARER).text
    for line in (f'skiplock_recent_class_jobs_finished{{class="{RECORD}",queue="alpha"}} 4.0',
                 f'skiplock_recent_class_jobs_finished{{class="{FAILS}",queue="beta"}} 4.0',
                 f'skiplock_recent_class_jobs_failed{{class="{FAILS}",queue="beta"}} 2.0',
                 f'skiplock_recent_class_jobs_finished{{class="{RECORD}",queue="beta"}} 1.0'):
        assert line in text, line
    assert f'skiplock_recent_class_runtime_seconds{{class="{RECORD}",queue="alpha",' \
           'stat="mean"}' in text
    assert 'class="other"' not in text  # three pairs: each has its own label


def add_minute(engine: sa.Engine, minutes_ago: int, queue: str, job_class: str,
               processed: int, failed: int = 0) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO queue_metrics VALUES (date_trunc('minute', now()) - "
            "make_interval(mins => :ago), :queue, :class, :processed, :failed, "
            ":processed * 0.5, 0.9, :processed * 2.0, 4.0)"),
            {"ago": minutes_ago, "queue": queue, "class": job_class, "processed": processed,
             "failed": failed})


def test_beyond_the_busiest_pairs_a_queues_classes_are_summed_as_other(
        client, engine, monkeypatch) -> None:
    monkeypatch.setattr(prometheus, "CLASS_SERIES", 2)
    for job_class, processed in (("app.jobs.A", 10), ("app.jobs.B", 5), ("app.jobs.C", 3),
                                 ("app.jobs.E", 1)):
        add_minute(engine, 0, "q", job_class, processed, failed=1)
    add_minute(engine, 1, "r", "app.jobs.D", 2)
    text = client.get("/metrics", headers=BEARER).text
    finished = sorted(line for line in text.splitlines()
                      if line.startswith("skiplock_recent_class_jobs_finished{"))
    assert finished == [
        'skiplock_recent_class_jobs_finished{class="app.jobs.A",queue="q"} 10.0',
        'skiplock_recent_class_jobs_finished{class="app.jobs.B",queue="q"} 5.0',
        'skiplock_recent_class_jobs_finished{class="other",queue="q"} 4.0',
        'skiplock_recent_class_jobs_finished{class="other",queue="r"} 2.0']
    assert 'skiplock_recent_class_jobs_failed{class="other",queue="q"} 2.0' in text
    assert 'skiplock_recent_class_runtime_seconds{class="other",queue="q",stat="mean"} 0.5' \
        in text


def test_minutes_is_the_window(client, engine) -> None:
    add_minute(engine, 0, "q", RECORD, 3)
    add_minute(engine, 90, "q", RECORD, 7)
    hour = by_name(client.get("/api/metrics?by=queue", headers=BEARER).json())
    two_hours = by_name(client.get("/api/metrics?by=queue&minutes=120", headers=BEARER).json())
    assert (hour["q"]["processed"], two_hours["q"]["processed"]) == (3, 10)
    assert client.get("/api/metrics?minutes=1", headers=BEARER).json()["metrics"][0][
        "processed"] == 3


@pytest.mark.parametrize(("query", "field", "sentence"), [
    ("by=worker", "by", "by must be class or queue"),
    ("minutes=0", "minutes", "minutes must be a whole number from 1 to 43,200"),
    ("minutes=43201", "minutes", "minutes must be a whole number from 1 to 43,200"),
    ("minutes=1.5", "minutes", "minutes must be a whole number from 1 to 43,200"),
    ("minutes=%D9%A3", "minutes", "minutes must be a whole number from 1 to 43,200"),
    ("minutes=-5", "minutes", "minutes must be a whole number from 1 to 43,200"),
])
def test_a_bad_by_or_minutes_is_422_with_one_sentence(client, query, field, sentence) -> None:
    answer = client.get(f"/api/metrics?{query}", headers=BEARER)
    assert answer.status_code == 422
    assert answer.json() == {"error": sentence, "field": field}


def test_the_history_of_one_class(client, engine) -> None:
    add_minute(engine, 0, "q", RECORD, 3)
    add_minute(engine, 0, "q", FAILS, 7)
    history = client.get(f"/api/metrics/history?class={RECORD}", headers=BEARER).json()
    assert sum(history["processed"]) == 3
    assert sum(client.get("/api/metrics/history", headers=BEARER).json()["processed"]) == 10


def test_the_metrics_page_tables_each_class_and_each_queue(client, worked) -> None:
    log_in(client)
    jobs = client.get("/metrics/jobs")
    assert jobs.status_code == 200
    assert f'<tr data-name="{RECORD}"' in jobs.text and f'<tr data-name="{FAILS}"' in jobs.text
    assert 'href="/metrics/jobs"' in jobs.text  # in the navigation
    chosen = client.get(f"/metrics/jobs?window=day&name={RECORD}").text
    assert f'data-class="{RECORD}"' in chosen and 'data-window="day"' in chosen
    queues = client.get("/metrics/queues").text
    assert '<tr data-name="alpha"' in queues and '<tr data-name="beta"' in queues
    assert client.get("/metrics/workers").status_code == 404
