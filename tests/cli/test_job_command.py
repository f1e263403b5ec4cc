"""queue:job through the real CLI on a real PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from app.queue import dispatch
from tests.cli.support import TRACEBACK, assert_error, insert_failed, reserve, run_json
from tests.jobs.basic import Record
from tests.support import artisan, claim

# --------------------------------------------------------------------------- queue:job


def test_job_shows_where_a_job_is(queue, engine):
    held = dispatch(Record("h"))
    delayed = dispatch(Record("d"), delay=600)
    orphan = dispatch(Record("o"))
    queue.store.register_worker("w-1", "mailer", "box-7", 4242, ["default"], 2)
    [claimed] = claim(queue.store, "w-1", ["default"], 1)
    assert claimed.id == held
    queue.store.set_progress("w-1", held, 40, "halfway")
    reserve(engine, orphan, worker="gone")  # its worker row no longer exists
    failed = insert_failed(engine, "emails")

    job = run_json("queue:job", held)
    assert job["state"] == "reserved" and job["attempts"] == 1
    assert job["worker"] == {"id": "w-1", "name": "mailer", "host": "box-7", "pid": 4242}
    assert (job["progress"], job["progress_message"]) == (40, "halfway")
    assert job["job_class"] == "tests.jobs.basic.Record"
    text = artisan("queue:job", held, env={"COLUMNS": "200"})
    assert "reserved by worker mailer on box-7 (pid 4242)" in text.stdout
    assert "40% halfway" in text.stdout

    assert run_json("queue:job", delayed)["state"] == "delayed"
    assert run_json("queue:job", orphan)["worker"]["name"] is None
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE jobs SET reserved_at = NULL, reserved_by = NULL, "
                             "last_error = 'RuntimeError: first try' WHERE id = :id"),
                     {"id": orphan})
    again = run_json("queue:job", orphan)
    assert again["state"] == "pending" and again["error"] == "RuntimeError: first try"

    gone = run_json("queue:job", failed)
    assert gone["state"] == "failed" and gone["error"] == "RuntimeError: smtp down"
    assert gone["error_detail"] == TRACEBACK and gone["failed_at"] is not None
    text = artisan("queue:job", failed)
    assert "RuntimeError: smtp down" in text.stdout and "Traceback" in text.stdout


def test_job_unknown_id(queue):
    assert_error(artisan("queue:job", "01UNKNOWN"), "01UNKNOWN")
    assert_error(artisan("queue:job", "01UNKNOWN", "--json"), "01UNKNOWN")


def test_job_shows_the_arguments_and_encrypted_for_an_encrypted_job(queue, engine, monkeypatch):
    from app.bootstrap import make_context
    from app.queue import context
    from app.queue.crypto import generate_key
    from tests.jobs.limited import Secret

    plain = dispatch(Record("invoice-7", seconds=0.5))
    job = run_json("queue:job", plain)
    assert job["arguments"] == {"tag": "invoice-7", "seconds": 0.5}
    text = artisan("queue:job", plain, env={"COLUMNS": "120"})
    line = next(line for line in text.stdout.splitlines() if line.startswith("Arguments"))
    assert '"tag": "invoice-7"' in line and '"seconds": 0.5' in line

    monkeypatch.setenv("APP_KEY", generate_key())
    context.use(make_context())
    secret = dispatch(Secret("s", "4111-1111-1111-1111"))
    failed = insert_failed(engine, job_class="tests.jobs.limited.Secret")
    with engine.begin() as conn:  # a failed encrypted job keeps its payload marked so
        conn.execute(sa.text("UPDATE failed_jobs SET payload = (SELECT payload FROM jobs "
                             "WHERE id = :secret) WHERE id = :id"),
                     {"secret": secret, "id": failed})
    for job_id in (secret, failed):
        assert run_json("queue:job", job_id)["arguments"] == "[encrypted]"
        text = artisan("queue:job", job_id, env={"COLUMNS": "120"})
        line = next(line for line in text.stdout.splitlines() if line.startswith("Arguments"))
        assert line.split() == ["Arguments", "[encrypted]"]
        assert "4111" not in text.stdout


def test_job_unknown_id_says_plainly_it_finished_or_was_never_dispatched(queue):
    result = artisan("queue:job", "01KNOWNDONE")
    assert_error(result, "job 01KNOWNDONE is not pending, delayed, reserved or failed: either "
                         "it finished (a job that succeeds is deleted, not kept) or it was "
                         "never dispatched")
