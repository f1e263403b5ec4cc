"""The queue commands through the real CLI on a real PostgreSQL: queue:clear, status, pause,
resume; and every operating command's one line when the database cannot be reached."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from app.queue import dispatch
from tests.cli.support import UNREACHABLE, assert_error, insert_failed, reserve, run_json
from tests.jobs.basic import Record
from tests.support import ROOT, artisan, count, ctrl_c_as_in_a_terminal, wait_for


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


def test_status_watch_refreshes_until_ctrl_c(queue, engine):
    dispatch(Record("a"), queue="watched")
    backends = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    before = count(engine, backends)
    proc = subprocess.Popen([sys.executable, "artisan.py", "queue:status", "--watch",
                             "--interval", "0.2"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=ctrl_c_as_in_a_terminal)
    # Ctrl-C once it watches: it has connected to the database (start-up under load can take
    # seconds, and a Ctrl-C that arrives while Python still imports is not this test's).
    assert wait_for(lambda: count(engine, backends) > before, 60)
    time.sleep(0.5)  # a few refreshes
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "watched" in out and "Traceback" not in err


# ---------------------------------------------------------------- queue:pause, resume


def test_pause_and_resume_say_what_they_did_when_run_twice(queue, engine):
    paused = "SELECT count(*) FROM paused_queues WHERE queue = 'mail'"
    assert artisan("queue:pause", "mail").stdout.strip() == \
        "Queue [mail] paused: workers stop claiming from it."
    again = artisan("queue:pause", "mail")
    assert again.returncode == 0 and again.stdout.strip() == "Queue [mail] was already paused."
    assert count(engine, paused) == 1
    assert artisan("queue:resume", "mail").stdout.strip() == "Queue [mail] resumed."
    again = artisan("queue:resume", "mail")
    assert again.returncode == 0 and again.stdout.strip() == "Queue [mail] was not paused."
    assert count(engine, paused) == 0


def test_pause_of_a_queue_no_job_or_worker_knows_warns_and_still_pauses(queue, engine):
    result = artisan("queue:pause", "nosuchqueue")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Queue [nosuchqueue] paused: workers stop claiming from it."
    assert result.stderr.startswith("warning: no job or worker knows the queue [nosuchqueue]")
    assert "paused all the same" in result.stderr and len(result.stderr.splitlines()) == 1
    assert count(engine, "SELECT count(*) FROM paused_queues WHERE queue = 'nosuchqueue'") == 1
    dispatch(Record("a"), queue="mail")
    known = artisan("queue:pause", "mail")
    assert known.returncode == 0 and known.stderr == ""


# ----------------------------------------------------------------------- queue:monitor


def monitor(*args: str) -> tuple[int, dict]:
    result = artisan("queue:monitor", *args, "--json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_monitor_reports_size_and_oldest_wait_and_exits_1_over_a_threshold(queue, engine):
    for _ in range(3):
        dispatch(Record("p"), queue="alpha")
    dispatch(Record("d"), queue="alpha", delay=600)
    reserve(engine, dispatch(Record("r"), queue="alpha"))
    with engine.begin() as conn:  # the oldest pending job of alpha has waited ~2 minutes
        conn.execute(sa.text("UPDATE jobs SET available_at = now() - interval '2 minutes' "
                             "WHERE id = (SELECT min(id) FROM jobs WHERE queue = 'alpha' "
                             "AND reserved_at IS NULL)"))

    code, data = monitor("alpha,empty", "--max", "5", "--max-wait", "600")
    assert code == 0 and data["alert"] is False
    alpha, empty = data["queues"]  # in the order asked, an empty queue listed too
    assert (alpha["queue"], alpha["size"], alpha["pending"], alpha["delayed"],
            alpha["reserved"]) == ("alpha", 5, 3, 1, 1)
    assert 115 <= alpha["oldest_pending_age_seconds"] < 300
    assert (empty["queue"], empty["size"], empty["oldest_pending_age_seconds"]) == \
        ("empty", 0, None)
    assert alpha["status"] == "ok" and alpha["alerts"] == []

    code, data = monitor("alpha,empty", "--max", "4")
    assert code == 1 and data["alert"] is True
    assert [q["status"] for q in data["queues"]] == ["alert", "ok"]
    assert data["queues"][0]["alerts"] == ["5 jobs > --max 4"]

    code, data = monitor("alpha", "--max-wait", "60")
    assert code == 1 and "--max-wait 60" in data["queues"][0]["alerts"][0]

    text = artisan("queue:monitor", "alpha,empty", "--max", "4", env={"COLUMNS": "80"})
    assert text.returncode == 1 and text.stderr == ""
    assert "ALERT" in next(line for line in text.stdout.splitlines() if "alpha" in line)
    assert "OK" in next(line for line in text.stdout.splitlines() if "empty" in line)


def test_monitor_of_the_default_queue_is_ok_when_empty(queue):
    code, data = monitor()
    assert code == 0 and [q["queue"] for q in data["queues"]] == ["default"]


def test_monitor_with_no_queue_checks_every_queue_and_exits_1_when_one_is_over(queue, engine):
    for _ in range(3):
        dispatch(Record("x"), queue="drowning")
    reserve(engine, dispatch(Record("r"), queue="busy"))
    code, data = monitor("--max", "2")
    assert code == 1 and data["alert"] is True
    sizes = {q["queue"]: (q["size"], q["status"]) for q in data["queues"]}
    assert sizes == {"busy": (1, "ok"), "default": (0, "ok"), "drowning": (3, "alert")}
    text = artisan("queue:monitor", "--max", "2", env={"COLUMNS": "80"})
    assert text.returncode == 1
    assert "ALERT" in next(line for line in text.stdout.splitlines() if "drowning" in line)


@pytest.mark.parametrize("args, fragment", [
    (("--max", "-1"), "--max"), (("--max-wait", "nan"), "--max-wait"), ((",",), "QUEUES")])
def test_monitor_rejects_bad_options(queue, args, fragment):
    result = artisan("queue:monitor", *args)
    assert result.returncode == 2
    assert_error(result, fragment)


# --------------------------------------------------------------- unreachable database


@pytest.mark.parametrize("args", [
    ["queue:failed"], ["queue:failed", "--json"], ["queue:retry", "X"], ["queue:retry", "all"],
    ["queue:retry-failed"], ["queue:forget", "X"], ["queue:flush"], ["queue:clear-failed"],
    ["queue:prune-failed"], ["queue:clear", "--force"], ["queue:status"],
    ["queue:status", "--json"], ["queue:monitor"], ["queue:job", "X"], ["queue:workers", "--json"],
])
def test_unreachable_database_is_one_line(database_url, args):
    result = artisan(*args, env=UNREACHABLE)
    assert result.returncode == 1
    assert_error(result, "cannot connect to database at 127.0.0.1:1")
    assert result.stdout == ""


def test_monitor_fires_queue_busy_for_each_queue_over_a_threshold(queue):
    from app.console.kernel import main
    from app.queue import events

    busy: list[events.QueueBusy] = []
    events.listen(events.QueueBusy, busy.append)
    try:
        for _ in range(3):
            dispatch(Record("p"), queue="busy")
        with pytest.raises(SystemExit) as exited:
            main(["queue:monitor", "busy,calm", "--max", "2", "--json"])
        assert exited.value.code == 1
    finally:
        events.forget_all()
    assert [(event.queue, event.size) for event in busy] == [("busy", 3)]
