"""Batches (SPEC §9) as the dashboard shows them: read straight from job_batches."""

from __future__ import annotations

import sqlalchemy as sa

from tests.dashboard.conftest import BEARER


def add_batch(engine: sa.Engine, batch_id: str, name: str = "", total: int = 0,
              pending: int = 0, failed_ids: tuple[str, ...] = (), state: str = "running") -> None:
    """A job_batches row as the workers' counters leave it (their path is tested with them)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO job_batches (id, name, total_jobs, pending_jobs, failed_jobs, "
            "failed_job_ids, cancelled_at, finished_at) VALUES (:id, :name, :total, :pending, "
            ":failed, :ids, CASE WHEN :state = 'cancelled' THEN now() END, "
            "CASE WHEN :state = 'finished' THEN now() END)"),
            {"id": batch_id, "name": name, "total": total, "pending": pending,
             "failed": len(failed_ids), "ids": list(failed_ids), "state": state})


def test_a_batch_answers_its_progress_counts_and_failed_jobs(client, engine) -> None:
    add_batch(engine, "01BATCH0000000000000000001", "import 42", total=8, pending=2,
              failed_ids=("F1", "F2"))
    answer = client.get("/api/batches/01BATCH0000000000000000001", headers=BEARER)
    assert answer.status_code == 200
    batch = answer.json()
    assert {key: batch[key] for key in ("name", "state", "total_jobs", "pending_jobs",
                                        "processed_jobs", "failed_jobs", "progress",
                                        "cancelled", "finished", "failed_job_ids")} == {
        "name": "import 42", "state": "running", "total_jobs": 8, "pending_jobs": 2,
        "processed_jobs": 6, "failed_jobs": 2, "progress": 75.0, "cancelled": False,
        "finished": False, "failed_job_ids": ["F1", "F2"]}


def test_an_unknown_batch_is_404_json(client) -> None:
    answer = client.get("/api/batches/NOPE", headers=BEARER)
    assert (answer.status_code, answer.json()) == (404, {"error": "no batch with id NOPE"})


def test_cancelled_and_finished_batches_say_so(client, engine) -> None:
    add_batch(engine, "01BATCH0000000000000000001", total=3, pending=1, state="cancelled")
    add_batch(engine, "01BATCH0000000000000000002", total=3, state="finished")
    add_batch(engine, "01BATCH0000000000000000003")  # empty: nothing left to do
    listed = client.get("/api/batches", headers=BEARER).json()["batches"]
    assert [(b["state"], b["cancelled"], b["finished"], b["progress"]) for b in listed] == [
        ("running", False, False, 100.0), ("finished", False, True, 100.0),
        ("cancelled", True, False, 66.67)]


def test_batches_page_by_keyset_newest_first(client, engine) -> None:
    ids = [f"01BATCH{n:019d}" for n in range(5)]
    for batch_id in ids:
        add_batch(engine, batch_id)
    first = client.get("/api/batches?limit=2", headers=BEARER).json()
    second = client.get(f"/api/batches?limit=2&before={first['next_before']}",
                        headers=BEARER).json()
    last = client.get(f"/api/batches?limit=2&before={second['next_before']}",
                      headers=BEARER).json()
    assert [[b["id"] for b in page["batches"]] for page in (first, second, last)] == [
        ids[:2:-1][:2], ids[2:0:-1], ids[:1]]
    assert last["next_before"] is None
    assert "failed_job_ids" not in first["batches"][0]  # the list stays small
    answer = client.get("/api/batches?limit=0", headers=BEARER)
    assert (answer.status_code, answer.json()["field"]) == (422, "limit")


def test_batch_pages_show_progress_and_link_failed_jobs(browser_client, engine) -> None:
    client, _csrf = browser_client
    add_batch(engine, "01BATCH0000000000000000001", "nightly import", total=4, pending=1,
              failed_ids=("01FAILED000000000000000001",))
    listing = client.get("/batches")
    assert listing.status_code == 200
    assert 'href="/batches/01BATCH0000000000000000001"' in listing.text
    assert ">nightly import</a>" in listing.text
    assert '<progress max="100" value="75.0">' in listing.text
    detail = client.get("/batches/01BATCH0000000000000000001")
    assert detail.status_code == 200
    assert "3 of 4 jobs finished" in detail.text
    assert 'href="/jobs/01FAILED000000000000000001"' in detail.text
    missing = client.get("/batches/NOPE")
    assert missing.status_code == 404
    assert "There is no batch with id NOPE." in missing.text


def test_a_member_job_links_to_its_batch(browser_client, engine) -> None:
    client, _csrf = browser_client
    add_batch(engine, "01BATCH0000000000000000001", total=1, pending=1)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO jobs (id, queue, payload, batch_id) VALUES ('J1', "
                             "'default', '{}', '01BATCH0000000000000000001')"))
    assert 'href="/batches/01BATCH0000000000000000001"' in client.get("/jobs/J1").text
    answer = client.get("/api/jobs/J1", headers=BEARER).json()
    assert answer["batch_id"] == "01BATCH0000000000000000001"
