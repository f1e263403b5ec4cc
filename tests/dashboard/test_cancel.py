"""Cancel a job, cancel a batch, retry a batch's failed jobs: from the API and from the pages'
forms, on the real queue (dispatch, real batches, real `queue:work` processes)."""

from __future__ import annotations

import signal

import sqlalchemy as sa

from app.queue import batch, dispatch
from tests.dashboard.conftest import BEARER, log_in, make_client
from tests.dashboard.test_batches import add_batch
from tests.jobs.compose import Step
from tests.jobs.sample_jobs import Carry
from tests.jobs.unique_and_cancel import SleepsInSteps
from tests.support import count, ledger, start_worker, wait_for, work


def failed_exception(engine: sa.Engine, job_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT exception FROM failed_jobs WHERE id = :id"),
                            {"id": job_id}).scalar()


def failed_ids(engine: sa.Engine, batch_id: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT id FROM failed_jobs WHERE batch_id = :b"),
                                 {"b": batch_id}).scalars())


# --------------------------------------------------------------------------- jobs, API


def test_api_cancels_a_waiting_job_then_says_it_had_finished(client, engine) -> None:
    job_id = dispatch(SleepsInSteps("w", 0), delay=3600)
    answer = client.post(f"/api/jobs/{job_id}/cancel", headers=BEARER)
    assert (answer.status_code, answer.json()) == (200, {"cancelled": job_id,
                                                         "outcome": "removed"})
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert failed_exception(engine, job_id) == "JobCancelled: cancelled while waiting"
    again = client.post(f"/api/jobs/{job_id}/cancel", headers=BEARER)
    assert again.status_code == 409
    assert again.json() == {"error": f"Job {job_id} had already finished (failed): nothing "
                                     "to cancel."}


def test_api_cancel_of_an_unknown_or_succeeded_job_is_404(client, engine) -> None:
    done = dispatch(Carry(1))
    assert work().returncode == 0
    for job_id in (done, "NOPE"):
        answer = client.post(f"/api/jobs/{job_id}/cancel", headers=BEARER)
        assert (answer.status_code, answer.json()) == (
            404, {"error": f"no job with id {job_id} waiting or running"})
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0


def test_api_cancel_of_a_running_job_is_stopped_by_its_worker(client, engine) -> None:
    """A real queue:work process runs the job; the API's cancel reaches it and it stops the
    job at once: failed as cancelled, its failed() hook run, never retried."""
    job_id = dispatch(SleepsInSteps("r", 60))
    worker = start_worker("--sleep", "0.2")
    try:
        assert wait_for(lambda: ledger(engine, "r") == [("r", "start")])
        answer = client.post(f"/api/jobs/{job_id}/cancel", headers=BEARER)
        assert (answer.status_code, answer.json()) == (200, {"cancelled": job_id,
                                                             "outcome": "stopping"})
        assert wait_for(lambda: failed_exception(engine, job_id) is not None, timeout=20)
        assert wait_for(lambda: len(ledger(engine, "r")) == 2)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert failed_exception(engine, job_id).startswith("JobCancelled: cancelled while running")
    assert ledger(engine, "r") == [("r", "start"), ("r", "failed: JobCancelled")]
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert "was cancelled: stopping it" in err


# -------------------------------------------------------------------------- jobs, pages


def test_the_job_page_cancels_a_waiting_job_and_says_so(browser_client, engine) -> None:
    client, csrf = browser_client
    job_id = dispatch(SleepsInSteps("p", 0))
    assert f'action="/jobs/{job_id}/cancel"' in client.get(f"/jobs/{job_id}").text
    answer = client.post(f"/jobs/{job_id}/cancel", data={"csrf_token": csrf})
    assert (answer.status_code, answer.headers["location"]) == (303, f"/jobs/{job_id}")
    page = client.get(f"/jobs/{job_id}").text
    assert f"Job {job_id} cancelled: removed from its queue" in page
    assert f'action="/jobs/{job_id}/cancel"' not in page  # failed now: retry or forget
    assert failed_exception(engine, job_id) == "JobCancelled: cancelled while waiting"
    client.post(f"/jobs/{job_id}/cancel", data={"csrf_token": csrf})
    assert "had already finished (failed): nothing to cancel" in client.get(f"/jobs/{job_id}").text


def test_read_only_hides_the_cancel_and_batch_buttons(queue, engine) -> None:
    job_id = dispatch(SleepsInSteps("p", 0))
    b = batch([Step("a")]).dispatch()
    with make_client(engine, read_only=True) as client:
        log_in(client)
        assert "/cancel" not in client.get(f"/jobs/{job_id}").text
        page = client.get(f"/batches/{b.id}").text
        assert "/cancel" not in page and "/retry" not in page


# ------------------------------------------------------------------------------ batches


def test_api_cancels_a_batch_once(client, engine) -> None:
    b = batch([Step("a"), Step("b")]).dispatch()
    answer = client.post(f"/api/batches/{b.id}/cancel", headers=BEARER)
    assert (answer.status_code, answer.json()) == (200, {"cancelled": b.id})
    assert b.fresh().cancelled
    assert count(engine, "SELECT count(*) FROM jobs") == 0  # its waiting jobs never run
    again = client.post(f"/api/batches/{b.id}/cancel", headers=BEARER)
    assert (again.status_code, again.json()) == (
        409, {"error": f"Batch {b.id} was cancelled already: nothing to do."})


def test_api_batch_cancel_of_a_finished_or_unknown_batch(client, engine) -> None:
    add_batch(engine, "01BATCH0000000000000000001", total=2, state="finished")
    finished = client.post("/api/batches/01BATCH0000000000000000001/cancel", headers=BEARER)
    assert finished.status_code == 409
    assert "had already finished: nothing to cancel" in finished.json()["error"]
    assert count(engine, "SELECT count(*) FROM job_batches WHERE cancelled_at IS NULL") == 1
    unknown = client.post("/api/batches/NOPE/cancel", headers=BEARER)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "no batch with id NOPE"})


def test_api_retries_a_batchs_failed_jobs(client, engine) -> None:
    b = batch([Step("a", fails=True), Step("b")]).allow_failures().dispatch()
    assert work().returncode == 0
    [failed_id] = failed_ids(engine, b.id)
    answer = client.post(f"/api/batches/{b.id}/retry", headers=BEARER)
    assert (answer.status_code, answer.json()) == (
        200, {"retried": [failed_id], "queues": ["default"], "kept": []})
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id AND batch_id = :b",
                 id=failed_id, b=b.id) == 1
    nothing = client.post(f"/api/batches/{b.id}/retry", headers=BEARER)
    assert nothing.json() == {"retried": [], "queues": [], "kept": []}
    unknown = client.post("/api/batches/NOPE/retry", headers=BEARER)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "no batch with id NOPE"})


def test_the_batch_page_retries_failed_jobs_and_cancels(browser_client, engine) -> None:
    client, csrf = browser_client
    b = batch([Step("a", fails=True), Step("b")]).allow_failures().dispatch()
    assert work().returncode == 0
    page = client.get(f"/batches/{b.id}").text
    assert f'action="/batches/{b.id}/retry"' in page
    assert f'action="/batches/{b.id}/cancel"' not in page  # finished: nothing to cancel
    client.post(f"/batches/{b.id}/retry", data={"csrf_token": csrf})
    assert "1 failed job pushed back onto the queue." in client.get(f"/batches/{b.id}").text
    assert failed_ids(engine, b.id) == []

    running = batch([Step("c"), Step("d")]).dispatch()
    assert f'action="/batches/{running.id}/retry"' not in client.get(
        f"/batches/{running.id}").text  # no failed job
    answer = client.post(f"/batches/{running.id}/cancel", data={"csrf_token": csrf})
    assert (answer.status_code, answer.headers["location"]) == (303, f"/batches/{running.id}")
    page = client.get(f"/batches/{running.id}").text
    assert f"Batch {running.id} cancelled: its waiting jobs will not run" in page
    assert f'action="/batches/{running.id}/cancel"' not in page
    assert running.fresh().cancelled
    client.post("/batches/NOPE/cancel", data={"csrf_token": csrf})
    assert "There is no batch with id NOPE." in client.get("/batches").text
