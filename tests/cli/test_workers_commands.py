"""queue:workers and queue:restart through the real CLI on a real PostgreSQL."""

from __future__ import annotations

import socket

import sqlalchemy as sa

from app.queue import dispatch
from tests.cli.support import reserve, run_json
from tests.jobs.basic import Record
from tests.support import artisan, ledger, start_worker, wait_for

# ----------------------------------------------------------------------- queue:workers


def test_workers_live_dead_and_stopped(queue, engine):
    store = queue.store
    for worker_id, name in (("w-live", "live"), ("w-dead", "dead"), ("w-stopped", "recent"),
                            ("w-old", "old")):
        store.register_worker(worker_id, name, "box", 100, ["high", "default"], 4)
    store.heartbeat("w-live", 2, 10, 1)
    store.heartbeat("w-dead", 3, 0, 0)  # then silent: its 3 jobs are still reserved
    for worker_id, running in (("w-live", 2), ("w-dead", 3)):
        for _ in range(running):
            reserve(engine, dispatch(Record("r")), worker_id)
    store.stop_worker("w-stopped", 5, 0, "signal")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE workers SET heartbeat_at = now() - interval '10 minutes' "
                             "WHERE id = 'w-dead'"))
        conn.execute(sa.text("UPDATE workers SET stopped_at = now() - interval '2 hours', "
                             "heartbeat_at = now() - interval '2 hours' WHERE id = 'w-old'"))

    data = run_json("queue:workers")  # a worker that exited as asked is not listed
    states = {w["name"]: w["state"] for w in data["workers"]}
    assert states == {"live": "live", "dead": "dead"}
    live = next(w for w in data["workers"] if w["name"] == "live")
    assert (live["running"], live["processed"], live["failed"], live["queues"]) == \
        (2, 10, 1, ["high", "default"])
    assert live["heartbeat_age_seconds"] < 60
    assert set(live) == {"id", "name", "host", "pid", "queues", "concurrency", "running",
                         "processed", "failed", "started_at", "heartbeat_at",
                         "heartbeat_age_seconds", "stopped_at", "state"}
    assert next(w for w in data["workers"] if w["name"] == "dead")["running"] == 3
    every = run_json("queue:workers", "--all")
    assert {w["name"]: w["state"] for w in every["workers"]} == {
        "live": "live", "dead": "dead", "recent": "stopped", "old": "stopped"}
    # Once a live worker has given the dead one's jobs back, it still shows as dead, running
    # none of them.
    store.rescue_jobs_of_dead_workers(60)
    rows = {w["name"]: w for w in run_json("queue:workers")["workers"]}
    assert {name: w["state"] for name, w in rows.items()} == {"live": "live", "dead": "dead"}
    assert rows["dead"]["running"] == 0

    text = artisan("queue:workers", env={"COLUMNS": "160"})
    assert text.returncode == 0
    dead_line = next(line for line in text.stdout.splitlines() if line.strip().startswith("dead"))
    assert "10m" in dead_line and "dead" in dead_line.split()[-1]


def test_workers_at_80_columns_keep_every_column(queue, engine):
    store = queue.store
    store.register_worker("w-1", "mailer", "build-host-7.example.internal", 1234567,
                          ["high", "default", "emails"], 16)
    store.heartbeat("w-1", 12, 1_203_004, 4_021)
    for _ in range(12):
        reserve(engine, dispatch(Record("r")), "w-1")
    store.register_worker("w-2", "once", "box", 42, ["default"], 1)
    store.heartbeat("w-2", 1, 1, 0)
    store.stop_worker("w-2", 1, 0, "empty")  # a --stop-when-empty run
    result = artisan("queue:workers", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80, result.stdout
    text = " ".join(lines)
    for shown in ("mailer", "build-host-7.example.internal", "1234567", "high, default, emails",
                  "12/16", "1,203,004", "4,021", "live"):
        assert shown in text
    assert "once" not in text  # stopped: only with --all
    every = artisan("queue:workers", "--all", env={"COLUMNS": "80"}).stdout
    once = next(line for line in every.splitlines() if line.startswith("once"))
    assert "0/1" in once and "stopped" in once


def test_workers_when_there_are_none(queue):
    result = artisan("queue:workers")
    assert result.returncode == 0 and "No workers." in result.stdout
    assert run_json("queue:workers") == {"workers": []}


def test_workers_count_a_reserved_job_as_running_without_waiting_for_a_heartbeat(queue, engine):
    queue.store.register_worker("w-1", "mailer", "box", 100, ["default"], 2)
    queue.store.heartbeat("w-1", 0, 0, 0)  # its last beat saw nothing running
    reserve(engine, dispatch(Record("a")), "w-1")
    (worker,) = run_json("queue:workers")["workers"]
    assert worker["running"] == 1
    # A job claimed ahead is reserved too, but waits for a slot: never more than concurrency.
    reserve(engine, dispatch(Record("b")), "w-1")
    reserve(engine, dispatch(Record("c")), "w-1")
    assert run_json("queue:workers")["workers"][0]["running"] == 2
    text = artisan("queue:workers", env={"COLUMNS": "160"})
    assert "2/2" in next(line for line in text.stdout.splitlines() if "mailer" in line)


def test_workers_started_without_name_get_distinct_host_pid_names(queue, engine):
    first = start_worker("--sleep", "0.2", "--quiet")
    second = start_worker("--sleep", "0.2", "--quiet", "--name", "mailer")
    try:
        assert wait_for(lambda: len(run_json("queue:workers")["workers"]) == 2, timeout=30)
        dispatch(Record("slow", seconds=30))
        assert wait_for(lambda: ("slow", "start") in ledger(engine), timeout=30)
        workers = {w["pid"]: w for w in run_json("queue:workers")["workers"]}
        assert workers[first.pid]["name"] == f"{socket.gethostname()}-{first.pid}"
        assert workers[second.pid]["name"] == "mailer"
        assert sum(w["running"] for w in workers.values()) == 1
    finally:
        for proc in (first, second):
            proc.terminate()
        for proc in (first, second):
            proc.communicate(timeout=60)
