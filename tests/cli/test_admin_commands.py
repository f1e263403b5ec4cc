"""The operating commands through the real CLI (`python artisan.py …`) on a real PostgreSQL:
queue:failed, retry, retry-failed, forget, flush, clear-failed, prune-failed, clear, status, job,
workers. Rows are made with dispatch() and direct SQL for reserved and failed states."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from app.queue import dispatch
from app.queue.ids import new_id
from tests.jobs.basic import Record
from tests.jobs.flaky import NeedsFile
from tests.support import ROOT, artisan, claim, count, ctrl_c_as_in_a_terminal

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "app/jobs/mail.py", line 12, in handle\n'
    "    raise RuntimeError('smtp down')\n"
    "RuntimeError: smtp down\n"
)
UNREACHABLE = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}


def insert_failed(engine: sa.Engine, queue: str = "default", hours_ago: float = 0,
                  job_class: str = "tests.jobs.basic.Record", exception: str = TRACEBACK,
                  job_id: str | None = None) -> str:
    job_id = job_id or new_id()
    payload = json.dumps({"job": job_class, "data": {"tag": job_id, "seconds": 0}})
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO failed_jobs (id, queue, payload, attempts, exception, failed_at) "
            "VALUES (:id, :queue, CAST(:payload AS jsonb), 3, :exception, "
            "now() - make_interval(secs => :hours * 3600))"),
            {"id": job_id, "queue": queue, "payload": payload, "exception": exception,
             "hours": hours_ago})
    return job_id


def reserve(engine: sa.Engine, job_id: str, worker: str = "w-1") -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE jobs SET reserved_at = now(), reserved_by = :w, "
                             "attempts = attempts + 1 WHERE id = :id"), {"id": job_id, "w": worker})


def run_json(*args: str) -> object:
    result = artisan(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


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


# ----------------------------------------------------------- forget, flush, prune, clear


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


def waiting_jobs(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT queue || ':' || (reserved_at IS NOT NULL)::text, count(*) FROM jobs "
            "GROUP BY 1")).all())


def test_clear_deletes_pending_and_delayed_jobs_of_one_queue_only(queue, engine):
    dispatch(Record("a"))
    dispatch(Record("b"), delay=600)
    reserve(engine, dispatch(Record("c")))
    dispatch(Record("d"), queue="other")
    result = artisan("queue:clear", "--force")
    assert result.returncode == 0, result.stderr
    assert "Cleared 2 jobs from the [default] queue." in result.stdout
    assert waiting_jobs(engine) == {"default:true": 1, "other:false": 1}
    result = artisan("queue:clear", "--queue", "other", "--force")
    assert "Cleared 1 job from the [other] queue." in result.stdout
    result = artisan("queue:clear", "--queue", "empty", "--force")
    assert result.returncode == 0 and "Cleared 0 jobs" in result.stdout


def test_clear_without_force_refuses_when_stdin_is_not_a_terminal(queue, engine):
    dispatch(Record("a"))
    assert_error(artisan("queue:clear", input=""), "--force", "[default]")
    assert count(engine, "SELECT count(*) FROM jobs") == 1


def run_in_terminal(args: list[str], answer: str) -> subprocess.CompletedProcess[str]:
    leader, follower = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "artisan.py", *args], cwd=ROOT, text=True,
                                stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.write(leader, answer.encode())
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(follower)
        os.close(leader)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_clear_asks_on_a_terminal(queue, engine):
    dispatch(Record("a"))
    declined = run_in_terminal(["queue:clear"], "n\n")
    assert declined.returncode == 1 and "Cancelled" in declined.stderr
    assert count(engine, "SELECT count(*) FROM jobs") == 1
    accepted = run_in_terminal(["queue:clear"], "y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert "Delete every waiting job of queue [default]?" in accepted.stdout
    assert count(engine, "SELECT count(*) FROM jobs") == 0


# ------------------------------------------------------------------------ queue:status


def test_status_figures_match_the_rows(queue, engine):
    for _ in range(3):
        dispatch(Record("p"), queue="alpha")
    for _ in range(2):
        dispatch(Record("d"), queue="alpha", delay=600)
    reserve(engine, dispatch(Record("r"), queue="alpha"))
    reserve(engine, dispatch(Record("r"), queue="beta"))
    dispatch(Record("p"), queue="beta")
    for q in ("alpha", "alpha", "gamma"):
        insert_failed(engine, q)
    with engine.begin() as conn:  # the oldest pending job of alpha has waited ~2 minutes
        conn.execute(sa.text("UPDATE jobs SET available_at = now() - interval '2 minutes' "
                             "WHERE id = (SELECT min(id) FROM jobs WHERE queue = 'alpha')"))
    assert artisan("queue:pause", "beta").returncode == 0

    data = run_json("queue:status")
    by_queue = {row["queue"]: row for row in data["queues"]}
    assert set(by_queue) == {"alpha", "beta", "gamma", "default"}
    figures = {q: (r["pending"], r["delayed"], r["reserved"], r["failed"], r["paused"])
               for q, r in by_queue.items()}
    assert figures == {"alpha": (3, 2, 1, 2, False), "beta": (1, 0, 1, 0, True),
                       "gamma": (0, 0, 0, 1, False), "default": (0, 0, 0, 0, False)}
    with engine.connect() as conn:  # the same figures straight from the tables
        for q, row in by_queue.items():
            pending = conn.execute(sa.text(
                "SELECT count(*) FROM jobs WHERE queue = :q AND reserved_at IS NULL "
                "AND available_at <= now()"), {"q": q}).scalar_one()
            assert row["pending"] == pending
    assert 115 <= by_queue["alpha"]["oldest_pending_age_seconds"] < 300
    assert by_queue["gamma"]["oldest_pending_age_seconds"] is None
    assert set(by_queue["alpha"]) == {"queue", "pending", "delayed", "reserved", "failed",
                                      "oldest_pending_at", "oldest_pending_age_seconds",
                                      "paused"}

    table = artisan("queue:status", env={"COLUMNS": "120"})
    assert table.returncode == 0, table.stderr
    alpha = next(line for line in table.stdout.splitlines() if "alpha" in line)
    assert [cell for cell in alpha.split() if cell != "│"][1:6] == ["3", "2", "1", "2", "2m"]
    assert "paused" in next(line for line in table.stdout.splitlines() if "beta" in line)


def test_status_of_an_empty_queue(queue):
    data = run_json("queue:status")
    assert data == {"queues": [{"queue": "default", "pending": 0, "delayed": 0, "reserved": 0,
                                "failed": 0, "oldest_pending_at": None,
                                "oldest_pending_age_seconds": None, "paused": False}]}


def test_status_rejects_bad_options(queue):
    assert_error(artisan("queue:status", "--interval", "0", "--watch"), "--interval")
    assert_error(artisan("queue:status", "--watch", "--json"), "--json")


def test_status_watch_refreshes_until_ctrl_c(queue):
    dispatch(Record("a"), queue="watched")
    proc = subprocess.Popen([sys.executable, "artisan.py", "queue:status", "--watch",
                             "--interval", "0.2"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=ctrl_c_as_in_a_terminal)
    time.sleep(2.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "watched" in out and "Traceback" not in err


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


# ----------------------------------------------------------------------- queue:workers


def test_workers_live_dead_and_stopped(queue, engine):
    store = queue.store
    for worker_id, name in (("w-live", "live"), ("w-dead", "dead"), ("w-stopped", "recent"),
                            ("w-old", "old")):
        store.register_worker(worker_id, name, "box", 100, ["high", "default"], 4)
    store.heartbeat("w-live", 2, 10, 1)
    store.stop_worker("w-stopped", 5, 0, "signal")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE workers SET heartbeat_at = now() - interval '10 minutes' "
                             "WHERE id = 'w-dead'"))
        conn.execute(sa.text("UPDATE workers SET stopped_at = now() - interval '2 hours', "
                             "heartbeat_at = now() - interval '2 hours' WHERE id = 'w-old'"))

    data = run_json("queue:workers")
    states = {w["name"]: w["state"] for w in data["workers"]}
    assert states == {"live": "live", "dead": "dead", "recent": "stopped"}
    live = next(w for w in data["workers"] if w["name"] == "live")
    assert (live["running"], live["processed"], live["failed"], live["queues"]) == \
        (2, 10, 1, ["high", "default"])
    assert live["heartbeat_age_seconds"] < 60
    assert set(live) == {"id", "name", "host", "pid", "queues", "concurrency", "running",
                         "processed", "failed", "started_at", "heartbeat_at",
                         "heartbeat_age_seconds", "stopped_at", "state"}
    every = run_json("queue:workers", "--all")
    assert {w["name"] for w in every["workers"]} == {"live", "dead", "recent", "old"}
    # Once a live worker has given the dead one's jobs back, it still shows as dead.
    store.rescue_jobs_of_dead_workers(60)
    states = {w["name"]: w["state"] for w in run_json("queue:workers")["workers"]}
    assert states == {"live": "live", "dead": "dead", "recent": "stopped"}

    text = artisan("queue:workers", env={"COLUMNS": "160"})
    assert text.returncode == 0
    dead_line = next(line for line in text.stdout.splitlines() if line.strip().startswith("dead"))
    assert "10m" in dead_line and "dead" in dead_line.split()[-1]


def test_workers_when_there_are_none(queue):
    result = artisan("queue:workers")
    assert result.returncode == 0 and "No workers." in result.stdout
    assert run_json("queue:workers") == {"workers": []}


# --------------------------------------------------------------- unreachable database


@pytest.mark.parametrize("args", [
    ["queue:failed"], ["queue:failed", "--json"], ["queue:retry", "X"], ["queue:retry", "all"],
    ["queue:retry-failed"], ["queue:forget", "X"], ["queue:flush"], ["queue:clear-failed"],
    ["queue:prune-failed"], ["queue:clear", "--force"], ["queue:status"],
    ["queue:status", "--json"], ["queue:job", "X"], ["queue:workers", "--json"],
])
def test_unreachable_database_is_one_line(database_url, args):
    result = artisan(*args, env=UNREACHABLE)
    assert result.returncode == 1
    assert_error(result, "cannot connect to database at 127.0.0.1:1")
    assert result.stdout == ""


def test_retried_job_keeps_its_priority(queue, engine):
    from app.queue import dispatch
    from tests.jobs.basic import Record

    job_id = dispatch(Record("p"), priority=7)
    [claimed] = claim(queue.store, "w", ["default"], 1)
    assert queue.store.fail("w", claimed.id, "boom")
    assert artisan("queue:retry", job_id).returncode == 0
    assert count(engine, "SELECT priority FROM jobs WHERE id = :id", id=job_id) == 7
