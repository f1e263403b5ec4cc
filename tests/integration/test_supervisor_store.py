"""SupervisorStore on the real database: the tick statement's answers (what each supervisor
is asked for, each queue's work) and the control commands' reach."""

from __future__ import annotations

import sqlalchemy as sa

from app.queue import dispatch
from app.queue.supervisor import parse_all
from app.queue.supervisor.store import Beat, SupervisorStore
from tests.jobs.basic import Record


def beat(name: str, state: str = "running") -> Beat:
    (settings,) = parse_all({name: {"queues": ["a", "b"]}}, ("database",), "default")
    return Beat(f"id-{name}", name, "host-1", 4242, "database", state, settings.as_json(),
                {"a": 1, "b": 1})


def test_the_tick_counts_due_unreserved_jobs_of_unpaused_queues(queue, engine):
    store = SupervisorStore(engine)
    for n in range(3):
        dispatch(Record(f"a{n}"), queue="a")
    dispatch(Record("later"), queue="a", delay=3600)
    dispatch(Record("b0"), queue="b")
    dispatch(Record("c0"), queue="c")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE jobs SET reserved_at = now(), reserved_by = 'w' "
                             "WHERE payload->'data'->>'tag' = 'a0'"))
    loads = store.tick([beat("main")], ["a", "b"]).loads
    assert {q: load.pending for q, load in loads.items()} == {"a": 2, "b": 1}
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO paused_queues (queue) VALUES ('a')"))
    assert store.tick([beat("main")], ["a", "b"]).loads["a"].pending == 0


def test_the_tick_reads_the_mean_runtime_of_the_last_minutes(queue, engine):
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO queue_metrics (minute, queue, job_class, processed, failed, "
            "runtime_sum) VALUES (date_trunc('minute', now()), 'a', 'X', 3, 1, 2.0), "
            "(date_trunc('minute', now()) - interval '1 hour', 'a', 'Y', 1, 0, 100.0)"))
    loads = SupervisorStore(engine).tick([beat("main")], ["a", "b"]).loads
    assert loads["a"].mean_runtime == 0.5
    assert loads["b"].mean_runtime is None


def test_a_control_command_reaches_the_named_supervisor_only(queue, engine):
    store = SupervisorStore(engine)
    store.tick([beat("main"), beat("reports")], [])
    assert store.ask("paused", "reports") == [("reports", "host-1", 4242)]
    assert store.tick([beat("main"), beat("reports")], []).wanted == {
        "id-main": "running", "id-reports": "paused"}


def test_a_terminate_is_not_undone_by_continue(queue, engine):
    store = SupervisorStore(engine)
    store.tick([beat("main")], [])
    store.ask("terminated")
    assert store.ask("running") == []
    assert store.tick([beat("main")], []).wanted == {"id-main": "terminated"}


def test_a_stopped_supervisor_is_not_asked_and_shows_stopped(queue, engine):
    store = SupervisorStore(engine)
    store.tick([beat("main")], [])
    store.stop(["id-main"])
    assert store.ask("paused") == []
    (info,) = store.supervisors()
    assert (info.state, info.processes) == ("stopped", {})
