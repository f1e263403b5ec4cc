"""The failed-job commands through the real CLI on a real PostgreSQL: queue:failed, retry,
retry-failed, forget, flush, clear-failed, prune-failed."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from app.queue import dispatch
from tests.cli.support import assert_error, insert_failed, run_json
from tests.jobs.basic import Record
from tests.jobs.flaky import NeedsFile
from tests.support import artisan, claim, count

# ------------------------------------------------------------------------ queue:failed


def test_failed_lists_newest_first_with_class_and_error_line(queue, engine):
    old = insert_failed(engine, "emails", hours_ago=2, job_class="app.jobs.mail.SendMail")
    new = insert_failed(engine, "default", hours_ago=1)
    result = artisan("queue:failed", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [i for i, line in enumerate(lines) if new in line] < \
        [i for i, line in enumerate(lines) if old in line]
    assert "SendMail" in result.stdout and "app.jobs.mail" not in result.stdout
    assert "RuntimeError: smtp down" in result.stdout and "Traceback" not in result.stdout

    data = run_json("queue:failed")
    assert [row["id"] for row in data["failed_jobs"]] == [new, old]
    assert data["next_after"] is None
    first = data["failed_jobs"][1]
    assert set(first) == {"id", "queue", "job_class", "attempts", "failed_at", "error"}
    assert first["job_class"] == "app.jobs.mail.SendMail" and first["queue"] == "emails"
    assert first["error"] == "RuntimeError: smtp down" and first["attempts"] == 3

    only = run_json("queue:failed", "--queue", "emails")
    assert [row["id"] for row in only["failed_jobs"]] == [old]


def test_failed_at_80_columns_wraps_the_error_instead_of_cutting_it(queue, engine):
    error = "RuntimeError: SMTP server smtp.example.com refused the connection: 421 too busy"
    job_id = insert_failed(engine, "emails", job_class="app.jobs.mail.SendWelcomeEmail",
                           exception=error)
    result = artisan("queue:failed", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80, result.stdout
    assert job_id in result.stdout and "SendWelcomeEmail" in result.stdout
    assert error in " ".join(line.strip() for line in lines)


def test_failed_paginates_by_page_offset_and_after(queue, engine):
    ids = [insert_failed(engine, hours_ago=10 - i) for i in range(5)]  # ids[-1] is newest
    newest_first = ids[::-1]
    page1 = run_json("queue:failed", "--limit", "2")
    assert [r["id"] for r in page1["failed_jobs"]] == newest_first[:2]
    assert page1["next_after"] == newest_first[1]
    page2 = run_json("queue:failed", "--limit", "2", "--page", "2")
    assert [r["id"] for r in page2["failed_jobs"]] == newest_first[2:4]
    skipped = run_json("queue:failed", "--limit", "2", "--offset", "3")
    assert [r["id"] for r in skipped["failed_jobs"]] == newest_first[3:5]
    after = run_json("queue:failed", "--limit", "2", "--after", page2["next_after"])
    assert [r["id"] for r in after["failed_jobs"]] == newest_first[4:]
    assert after["next_after"] is None
    text = artisan("queue:failed", "--limit", "2")
    assert f"--after {newest_first[1]}" in text.stdout


def test_failed_on_an_empty_table(queue):
    result = artisan("queue:failed")
    assert result.returncode == 0 and "No failed jobs." in result.stdout
    assert run_json("queue:failed") == {"failed_jobs": [], "next_after": None}


@pytest.mark.parametrize("args, fragment", [
    (("--limit", "0"), "--limit"),
    (("--page", "0"), "--page"),
    (("--offset", "-1"), "--offset"),
    (("--page", "2", "--after", "x"), "one of them"),
])
def test_failed_rejects_bad_options(queue, args, fragment):
    assert_error(artisan("queue:failed", *args), fragment)


def test_failed_after_an_unknown_id(queue):
    assert_error(artisan("queue:failed", "--after", "NOPE"), "NOPE")


# ------------------------------------------------------------------------- queue:retry


def test_retry_moves_jobs_back_with_the_same_id_and_reports_unknown_ones(queue, engine):
    a, b = insert_failed(engine, "emails"), insert_failed(engine, "default")
    untouched = insert_failed(engine, "default")
    result = artisan("queue:retry", a, "MISSING", b)
    assert_error(result, "MISSING")
    assert a in result.stdout and b in result.stdout  # the others were still retried
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT id, queue, attempts, reserved_at, reserved_by, available_at <= now() AS now, "
            "payload->>'job' AS job FROM jobs ORDER BY id")).all()
    assert [(r.id, r.queue, r.attempts, r.reserved_at, r.reserved_by, r.now) for r in rows] == [
        (a, "emails", 0, None, None, True), (b, "default", 0, None, None, True)]
    assert rows[0].job == "tests.jobs.basic.Record"
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id = :id", id=untouched) == 1


def test_retry_all_of_one_queue_wakes_its_workers(queue, engine, database_url):
    emails = [insert_failed(engine, "emails") for _ in range(3)]
    other = insert_failed(engine, "default")
    with psycopg.connect(sa.engine.make_url(database_url).set(drivername="postgresql")
                         .render_as_string(hide_password=False), autocommit=True) as listener:
        listener.execute("LISTEN skiplock")
        result = artisan("queue:retry", "all", "--queue", "emails")
        assert result.returncode == 0, result.stderr
        assert "3 failed jobs pushed back onto the queue [emails]" in result.stdout
        notes = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert notes == ["emails"]
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = ANY(:ids)", ids=emails) == 3
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id = :id", id=other) == 1


def test_retry_failed_moves_every_batch_and_never_loses_a_conflicting_job(queue, engine):
    with engine.begin() as conn:  # more than one batch (RETRY_BATCH = 1000)
        conn.execute(sa.text(
            "INSERT INTO failed_jobs (id, queue, payload, exception, failed_at) "
            "SELECT 'F' || lpad(g::text, 25, '0'), 'q' || (g % 2), '{}', 'boom', "
            "now() - make_interval(secs => g) FROM generate_series(1, 2500) g"))
    clash = insert_failed(engine, "q0")
    dispatch(Record("x"))  # a queued job that happens to have the same id as a failed one
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE jobs SET id = :id"), {"id": clash})
    result = artisan("queue:retry-failed")
    assert_error(result, clash, "left in failed_jobs")
    assert "2500 failed jobs pushed back onto the queues [q0, q1]." in result.stdout
    assert count(engine, "SELECT count(*) FROM jobs WHERE attempts = 0") == 2501
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id = :id", id=clash) == 1
    result = artisan("queue:retry", clash)
    assert_error(result, clash, "left in failed_jobs")


def test_retry_needs_ids_and_keeps_all_apart(queue, engine):
    assert_error(artisan("queue:retry"), "ids")
    assert_error(artisan("queue:retry", "all", "X"), "all")
    assert_error(artisan("queue:retry", "X", "--queue", "q"), "--queue")
    assert_error(artisan("queue:retry", "UNKNOWN"), "UNKNOWN")


def test_retry_failed_on_an_empty_table(queue):
    result = artisan("queue:retry-failed")
    assert result.returncode == 0 and "No failed jobs to retry." in result.stdout


def test_a_failed_job_retried_runs_again_and_succeeds_once_its_cause_is_gone(
        queue, engine, tmp_path: Path):
    flag = tmp_path / "ready"
    job_id = dispatch(NeedsFile("n", str(flag)))
    worked = artisan("queue:work", "--stop-when-empty", "--sleep", "0.2")
    assert worked.returncode == 0, worked.stderr
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id = :id", id=job_id) == 1
    assert "FileNotFoundError" in run_json("queue:failed")["failed_jobs"][0]["error"]

    flag.touch()  # the cause is gone
    retried = artisan("queue:retry-failed")
    assert retried.returncode == 0 and "1 failed job pushed back" in retried.stdout
    assert run_json("queue:job", job_id)["state"] == "pending"
    worked = artisan("queue:work", "--stop-when-empty", "--sleep", "0.2")
    assert worked.returncode == 0, worked.stderr
    with engine.connect() as conn:
        events = conn.execute(sa.text("SELECT event FROM ledger WHERE job_id = :id ORDER BY id"),
                              {"id": job_id}).scalars().all()
    assert events == ["attempt 1", "attempt 1", "done"]  # attempts were reset by the retry
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0


# ------------------------------------------------------------------ forget, flush, prune


def test_forget_deletes_one_failed_job(queue, engine):
    keep, gone = insert_failed(engine), insert_failed(engine)
    result = artisan("queue:forget", gone)
    assert result.returncode == 0 and gone in result.stdout
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id = :id", id=keep) == 1
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1
    assert_error(artisan("queue:forget", gone), gone)


def test_flush_prune_and_clear_failed_by_age(queue, engine):
    for hours in (0, 2, 30, 50):
        insert_failed(engine, hours_ago=hours)
    result = artisan("queue:prune-failed")  # default: older than 24 hours
    assert result.returncode == 0 and "Deleted 2 failed jobs" in result.stdout
    result = artisan("queue:flush", "--hours", "1")
    assert result.returncode == 0 and "Deleted 1 failed job " in result.stdout
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1
    assert artisan("queue:flush").returncode == 0
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0
    insert_failed(engine)
    result = artisan("queue:clear-failed")
    assert result.returncode == 0 and "Deleted 1 failed job." in result.stdout
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0


@pytest.mark.parametrize("command", ["queue:flush", "queue:prune-failed"])
def test_flush_and_prune_reject_negative_hours(queue, engine, command):
    insert_failed(engine, hours_ago=100)
    assert_error(artisan(command, "--hours", "-1"), "--hours")
    assert_error(artisan(command, "--hours", "nan"), "--hours")
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1


def test_retried_job_keeps_its_priority(queue, engine):
    job_id = dispatch(Record("p"), priority=7)
    [claimed] = claim(queue.store, "w", ["default"], 1)
    assert queue.store.fail("w", claimed.id, "boom")
    assert artisan("queue:retry", job_id).returncode == 0
    assert count(engine, "SELECT priority FROM jobs WHERE id = :id", id=job_id) == 7
