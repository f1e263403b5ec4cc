"""The scheduler against a real PostgreSQL: several `schedule:work` processes and a
`schedule:run` each second enqueue each due run exactly once, also when one is killed."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from tests.support import ROOT, artisan, count, wait_for


def schedule_env(module: str) -> dict[str, str]:
    return {"SCHEDULE_MODULE": f"tests.schedules.{module}"}


def start_scheduler(module: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "artisan.py", "schedule:work"], cwd=ROOT, stdout=out,
            stderr=subprocess.STDOUT, env={**os.environ, **schedule_env(module)})


def runs(engine: sa.Engine, task: str) -> list[tuple[dt.datetime, str | None]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT due_at, job_id FROM schedule_runs WHERE task = :task ORDER BY due_at"),
            {"task": task})]


def test_schedulers_on_every_side_enqueue_each_second_once_even_when_one_is_killed(
        queue, engine, tmp_path):
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    schedulers = [start_scheduler("every_second", log) for log in logs]
    started = time.monotonic()
    cron_runs: list[subprocess.Popen[bytes]] = []
    try:
        killed = False
        while time.monotonic() - started < 10:
            # A third kind of scheduler: schedule:run started each second, as system cron
            # starts it each minute (not waited for: each takes its own time to start).
            cron_runs.append(subprocess.Popen(
                [sys.executable, "artisan.py", "schedule:run"], cwd=ROOT,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, **schedule_env("every_second")}))
            if not killed and time.monotonic() - started > 5:
                schedulers[0].kill()  # kill -9 mid-run: the others carry on
                schedulers[0].wait()
                killed = True
            time.sleep(1.0)
        assert killed
    finally:
        for proc in schedulers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        assert schedulers[1].wait(20) == 0, logs[1].read_text()
        assert [proc.wait(30) for proc in cron_runs] == [0] * len(cron_runs)
    ticks = len(cron_runs)

    found = runs(engine, "tick")
    dues = [due for due, _job in found]
    assert len(found) >= 9, f"only {len(found)} runs in 10 s"
    # No gaps: consecutive seconds from the first run to the last.
    gaps = [(a, b) for a, b in itertools.pairwise(dues) if b - a != dt.timedelta(seconds=1)]
    assert gaps == [], f"seconds missed between {gaps}"
    # Exactly once: one job per run, and no job enqueued without its run.
    job_ids = [job for _due, job in found]
    assert None not in job_ids
    assert count(engine, "SELECT count(*) FROM jobs WHERE queue = 'scheduled'") == len(found)
    with engine.connect() as conn:
        queued = set(conn.execute(sa.text("SELECT id FROM jobs WHERE queue = 'scheduled'"))
                     .scalars())
    assert queued == set(job_ids)
    print(f"\nscheduler: {len(found)} runs over {dues[-1] - dues[0]}, 2 schedule:work + "
          f"{ticks} schedule:run, one schedule:work SIGKILLed mid-run")


def test_a_claimed_run_that_is_rolled_back_is_claimed_again(queue, engine):
    from app.queue.schedule import load
    from app.queue.schedule.scheduler import Scheduler

    tasks = load("tests.schedules.every_second")
    scheduler = Scheduler(tasks, engine, lambda args, out: 0, "test")
    # Half a second into the database's current second: no calendar date is written here.
    now = scheduler.store.now().replace(microsecond=500000)
    with engine.begin() as conn:  # a scheduler killed mid-tick: its claim never commits
        conn.execute(sa.text("INSERT INTO schedule_runs (task, due_at, claimed_by) VALUES "
                             "('tick', :due, 'dead')"), {"due": now.replace(microsecond=0)})
        conn.rollback()
    done = scheduler.tick(now)
    assert [run.due_at for run in done if run.state == "enqueued"] == [
        now.replace(microsecond=0) - dt.timedelta(seconds=s) for s in (2, 1, 0)]
    assert scheduler.tick(now) == []  # already decided in this process
    other = Scheduler(tasks, engine, lambda args, out: 0, "other")
    assert {run.state for run in other.tick(now)} == {"taken by another scheduler"}
    assert count(engine, "SELECT count(*) FROM jobs") == 3


def test_a_tick_prunes_by_the_clock_it_was_given_not_the_databases(queue, engine):
    from app.queue.schedule import load
    from app.queue.schedule.scheduler import Scheduler

    scheduler = Scheduler(load("tests.schedules.every_second"), engine, lambda a, o: 0, "test")
    now = dt.datetime(2020, 1, 1, 12, 0, 0, 500000, tzinfo=dt.UTC)  # years before the database's
    with engine.begin() as conn:
        for age in (dt.timedelta(days=2), dt.timedelta(hours=1)):
            conn.execute(sa.text("INSERT INTO schedule_runs (task, due_at, claimed_by) VALUES "
                                 "('tick', :due, 'earlier')"), {"due": now - age})
    scheduler.tick(now)
    kept = [due for due, _ in runs(engine, "tick") if due < now - dt.timedelta(seconds=3)]
    assert kept == [now - dt.timedelta(hours=1)]  # a day old by `now` is pruned; younger is not


def test_without_overlapping_waits_until_the_last_run_has_left_the_queue(queue, engine):
    from app.queue.schedule import load
    from app.queue.schedule.scheduler import Scheduler

    scheduler = Scheduler(load("tests.schedules.overlapping"), engine, lambda a, o: 0, "test")
    start = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)
    states = [run.state.value for run in scheduler.tick(start)]
    assert states[0] == "enqueued" and set(states[1:]) == {
        "skipped: the last run is still pending or running"}
    later = [run.state.value for run in scheduler.tick(start + dt.timedelta(seconds=5))]
    assert set(later) == {"skipped: the last run is still pending or running"}
    with engine.begin() as conn:  # a worker finished it
        conn.execute(sa.text("DELETE FROM jobs"))
    after = [run.state.value for run in scheduler.tick(start + dt.timedelta(seconds=6))]
    assert after == ["enqueued"]
    assert count(engine, "SELECT count(*) FROM schedule_runs WHERE task = 'lonely'") == 2


def test_when_and_skip_keep_runs_from_being_enqueued(queue, engine):
    from app.queue.schedule import load
    from app.queue.schedule.scheduler import Scheduler

    scheduler = Scheduler(load("tests.schedules.conditions"), engine, lambda a, o: 0, "test")
    done = scheduler.tick(dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC))
    by_task: dict[str, set[str]] = {}
    for run in done:
        by_task.setdefault(run.task, set()).add(run.state.value)
    assert by_task == {"when": {"skipped"}, "skip": {"skipped"}, "runs": {"enqueued"}}
    assert count(engine, "SELECT count(*) FROM jobs") == 3  # 3 due seconds of "runs"


def test_scheduled_jobs_run_on_a_worker(queue, engine):
    assert artisan("schedule:test", "tick", env=schedule_env("every_second")).returncode == 0
    assert artisan("queue:work", "--queue", "scheduled", "--stop-when-empty").returncode == 0
    assert wait_for(lambda: count(engine, "SELECT count(*) FROM ledger WHERE tag = 'tick' "
                                          "AND event = 'end'") == 1, 10)
