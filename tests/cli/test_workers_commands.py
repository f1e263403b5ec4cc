"""queue:workers and queue:restart through the real CLI on a real PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from tests.cli.support import run_json
from tests.support import artisan

# ----------------------------------------------------------------------- queue:workers


def test_workers_live_dead_and_stopped(queue, engine):
    store = queue.store
    for worker_id, name in (("w-live", "live"), ("w-dead", "dead"), ("w-stopped", "recent"),
                            ("w-old", "old")):
        store.register_worker(worker_id, name, "box", 100, ["high", "default"], 4)
    store.heartbeat("w-live", 2, 10, 1)
    store.heartbeat("w-dead", 3, 0, 0)  # then silent: its 3 jobs are still reserved
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
