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
