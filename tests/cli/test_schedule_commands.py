"""schedule:list, schedule:test, schedule:run and the one-line errors of a bad schedule, through
the real `python artisan.py`."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from tests.support import artisan, claim_every_run_of_the_last_hours, count


def schedule_env(module: str) -> dict[str, str]:
    return {"SCHEDULE_MODULE": f"tests.schedules.{module}"}


def test_schedule_list_json_shows_each_task_with_its_next_due(queue):
    result = artisan("schedule:list", "--json", env=schedule_env("mixed"))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["task"] for row in rows] == ["nightly report", "status", "failing command"]
    nightly = rows[0]
    assert nightly["kind"] == "job" and nightly["target"] == "Record"
    assert nightly["queue"] == "reports" and nightly["timezone"] == "Europe/Paris"
    assert nightly["expression"] == "30 2 * * *"
    assert "T02:30:00+0" in nightly["next_due"]  # 02:30 in Paris, with Paris's offset
    assert nightly["last_run"] is None
    assert rows[1]["kind"] == "command" and rows[1]["target"] == "queue:status --json"
    table = artisan("schedule:list", env={**schedule_env("mixed"), "COLUMNS": "120"})
    assert table.returncode == 0 and "nightly report" in table.stdout


def test_schedule_test_enqueues_a_job_task_now_and_list_shows_the_run(queue, engine):
    result = artisan("schedule:test", "nightly report", env=schedule_env("mixed"))
    assert result.returncode == 0, result.stderr
    assert "nightly report" in result.stderr and "enqueued" in result.stderr
    assert count(engine, "SELECT count(*) FROM jobs WHERE queue = 'reports'") == 1
    rows = json.loads(artisan("schedule:list", "--json", env=schedule_env("mixed")).stdout)
    assert rows[0]["last_run"]["job_id"] is not None


def test_schedule_test_runs_a_command_task_and_reports_its_exit_code(queue):
    ok = artisan("schedule:test", "status", env=schedule_env("mixed"))
    assert ok.returncode == 0, ok.stderr
    assert "[status] {" in ok.stderr  # queue:status --json's output, logged under the task
    failing = artisan("schedule:test", "failing command", env=schedule_env("mixed"))
    assert failing.returncode == 1
    assert "failing command: failed with exit code 1" in failing.stderr
    assert "is not pending" in failing.stderr  # the command's own error line, logged


def test_schedule_test_of_an_unknown_task_names_those_there_are(queue):
    result = artisan("schedule:test", "nope", env=schedule_env("mixed"))
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: no scheduled task is named 'nope'; there are: "
                                     "nightly report, status, failing command")


def test_schedule_run_with_nothing_due_says_so(queue, engine):
    result = artisan("schedule:run", env=schedule_env("mixed"))
    assert result.returncode == 0, result.stderr
    assert count(engine, "SELECT count(*) FROM jobs") == 0


@pytest.mark.parametrize(("module", "message"), [
    ("broken", "cannot be loaded: RuntimeError: this schedule file is broken"),
    ("bad_cron", "scheduled task 'bad cron': bad cron expression '99 * * * *'"),
    ("bad_zone", "scheduled task 'bad zone': unknown time zone 'Mars/Olympus'"),
    ("duplicate", "two scheduled tasks are named 'Record'"),
    ("unserialisable", "scheduled task 'set argument': its job cannot be queued"),
    ("unknown_command", "scheduled task 'typo': 'queue:frobnicate' is not an artisan command"),
    ("no_such_module", "cannot be loaded: ModuleNotFoundError"),
])
@pytest.mark.parametrize("command", ["schedule:list", "schedule:work"])
def test_a_bad_schedule_is_one_line_and_exit_1(queue, module, message, command):
    result = artisan(command, env=schedule_env(module), timeout=30)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0]


DUE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def test_schedule_list_at_80_columns_keeps_each_time_whole_and_to_the_second(queue):
    assert artisan("schedule:test", "nightly report", env=schedule_env("mixed")).returncode == 0
    result = artisan("schedule:list", env={**schedule_env("mixed"), "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80, result.stdout
    nightly = next(line for line in lines if line.startswith("nightly report"))
    assert len(DUE_TIME.findall(nightly)) == 2  # next due and last run, each whole
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", result.stdout)  # no microseconds
    assert "30 2 * * *" in result.stdout and "Europe/Paris" in result.stdout
    for task in ("status", "failing command"):
        assert len(DUE_TIME.findall(next(line for line in lines if line.startswith(task)))) == 1


def test_schedule_list_warns_when_no_scheduler_claimed_a_due_run(queue, engine):
    result = artisan("schedule:list", env=schedule_env("mixed"))
    assert result.returncode == 0
    assert result.stderr.startswith("warning: no scheduler seems to be running: ")
    assert "schedule:work" in result.stderr and len(result.stderr.splitlines()) == 1
    as_json = artisan("schedule:list", "--json", env=schedule_env("mixed"))
    assert json.loads(as_json.stdout) and "no scheduler seems to be running" in as_json.stderr

    claim_every_run_of_the_last_hours(engine, ["nightly report", "status", "failing command"])
    running = artisan("schedule:list", env=schedule_env("mixed"))
    assert running.returncode == 0 and running.stderr == ""

    with engine.begin() as conn:  # the scheduler stopped an hour ago
        conn.execute(sa.text("DELETE FROM schedule_runs WHERE due_at > now() - interval '1 hour'"))
    stopped = artisan("schedule:list", env=schedule_env("mixed"))
    assert "no scheduler seems to be running" in stopped.stderr
