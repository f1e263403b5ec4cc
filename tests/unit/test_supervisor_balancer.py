"""The balancer (app/queue/supervisor/balancer.py): processes per pool as a pure function of
the settings, the current counts and the work waiting."""

from __future__ import annotations

from app.queue.supervisor import parse_all
from app.queue.supervisor.balancer import QueueLoad, target


def settings(**raw: object):
    return parse_all({"main": {"queues": ["a", "b"], **raw}}, ("database",), "default")[0]


AUTO = {"balance": "auto", "min_processes": 1, "max_processes": 4, "balance_max_shift": 1}


def loads(a: int, b: int, runtime_a: float | None = None, runtime_b: float | None = None):
    return {"a": QueueLoad(a, runtime_a), "b": QueueLoad(b, runtime_b)}


def test_auto_starts_each_queue_at_its_floor():
    assert target(settings(**AUTO), {}, {}) == {"a": 1, "b": 1}


def test_auto_moves_one_process_per_step_toward_the_flooded_queue():
    s = settings(**AUTO)
    step1 = target(s, {"a": 1, "b": 1}, loads(1000, 0))
    step2 = target(s, step1, loads(1000, 0))
    assert step1 == {"a": 2, "b": 1}
    assert step2 == {"a": 3, "b": 1}
    assert target(s, step2, loads(1000, 0)) == {"a": 3, "b": 1}, "never above max_processes"


def test_auto_gives_processes_back_one_per_step_when_the_queue_drains():
    s = settings(**AUTO)
    assert target(s, {"a": 3, "b": 1}, loads(0, 0)) == {"a": 2, "b": 1}
    assert target(s, {"a": 2, "b": 1}, loads(0, 0)) == {"a": 1, "b": 1}


def test_auto_never_goes_below_min_processes_per_queue():
    s = settings(**{**AUTO, "min_processes": 2, "max_processes": 6, "balance_max_shift": 5})
    assert target(s, {"a": 2, "b": 2}, loads(10**6, 0)) == {"a": 4, "b": 2}
    assert target(s, {"a": 0, "b": 0}, loads(0, 0)) == {"a": 2, "b": 2}


def test_auto_balance_max_shift_bounds_each_step():
    s = settings(**{**AUTO, "max_processes": 10, "balance_max_shift": 3})
    assert target(s, {"a": 1, "b": 1}, loads(900, 100)) == {"a": 4, "b": 1}


def test_auto_counts_draining_processes_toward_the_maximum():
    s = settings(**AUTO)
    assert target(s, {"a": 1, "b": 1}, loads(1000, 0), draining=2) == {"a": 1, "b": 1}


def test_a_shrinking_pool_makes_room_for_a_growing_one_in_the_same_step():
    s = settings(**AUTO)
    assert target(s, {"a": 3, "b": 1}, loads(0, 1000)) == {"a": 2, "b": 2}


def test_time_strategy_weighs_pending_by_mean_runtime():
    s = settings(**{**AUTO, "max_processes": 10, "balance_max_shift": 10,
                    "auto_scaling_strategy": "time"})
    # 100 jobs of 1 s against 900 of 0.01 s: a has 11x the work.
    assert target(s, {}, loads(100, 900, 1.0, 0.01)) == {"a": 9, "b": 1}, "b keeps its floor"


def test_size_strategy_weighs_pending_alone():
    s = settings(**{**AUTO, "max_processes": 10, "balance_max_shift": 10,
                    "auto_scaling_strategy": "size"})
    assert target(s, {}, loads(100, 900, 1.0, 0.01)) == {"a": 1, "b": 9}


def test_simple_splits_processes_evenly_the_first_queue_taking_the_remainder():
    s = parse_all({"m": {"queues": ["a", "b", "c"], "balance": "simple", "processes": 5}},
                  ("database",), "default")[0]
    assert target(s, {}, {"a": QueueLoad(10**6, 1.0)}) == {"a": 2, "b": 2, "c": 1}


def test_off_runs_every_process_on_every_queue_in_order():
    s = settings(balance="off", processes=3)
    assert target(s, {}, loads(10**6, 0)) == {"a,b": 3}
