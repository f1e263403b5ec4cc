"""Supervisor settings (app/queue/supervisor/settings.py): checked once, each problem one line
naming the supervisor and the key."""

from __future__ import annotations

import pytest

from app.queue.errors import QueueError
from app.queue.supervisor import SupervisorConfigError, merged, parse_all
from app.queue.supervisor.pool import BACKOFF_CAP, RestartPolicy


def parse(raw: dict) -> tuple:
    return parse_all(raw, ("database",), "default")


def test_defaults_follow_horizon():
    (s,) = parse({"main": {"queues": ["a", "b"]}})
    assert (s.connection, s.balance.value, s.min_processes, s.max_processes,
            s.balance_max_shift, s.balance_cooldown, s.auto_scaling_strategy.value) == (
        "database", "auto", 1, 2, 1, 3.0, "time")


def test_worker_options_become_queue_work_flags():
    (s,) = parse({"main": {"queues": ["a"], "concurrency": 10, "tries": 3, "timeout": 60,
                           "memory": 128, "max_jobs": 500, "max_time": 3600, "sleep": 0.5}})
    assert s.worker_arguments() == ["--sleep", "0.5", "--concurrency", "10", "--tries", "3",
                                    "--memory", "128", "--max-jobs", "500", "--timeout", "60",
                                    "--max-time", "3600"]


def test_the_environment_merges_over_the_declared_settings_key_by_key():
    assert merged({"main": {"queues": ["a"], "max_processes": 4}},
                  {"main": {"max_processes": 8}, "other": {"queues": ["b"]}}) == {
        "main": {"queues": ["a"], "max_processes": 8}, "other": {"queues": ["b"]}}


@pytest.mark.parametrize(("raw", "message"), [
    ({"m": {"connection": "redis"}}, "supervisor m: unknown connection 'redis'"),
    ({"m": {"min_processes": 3, "max_processes": 2}},
     "supervisor m: min_processes (3) is above max_processes (2)"),
    ({"m": {"queues": ["a", "b"], "min_processes": 2, "max_processes": 3}},
     "min_processes 2 for each of 2 queues is above max_processes (3)"),
    ({"m": {"queues": ["a"], "balance": "off"}, "n": {"queues": ["b", "a"]}},
     "queue 'a' is in supervisors m and n, and m has balance 'off'"),
    ({"m": {"procesess": 3}}, "supervisor m: unknown setting 'procesess'"),
    ({"m": {"max_processes": "4"}},
     "supervisor m: max_processes must be a whole number of at least 1, not '4'"),
    ({"m": {"balance": "smart"}}, "supervisor m: balance must be 'auto' or 'simple' or 'off'"),
    ({"m": {"balance_cooldown": 0}}, "balance_cooldown must be a number of seconds above 0"),
    ({"m": {"queues": []}}, "queues must be a non-empty list"),
    ({"m": {"queues": ["a", "b"], "balance": "simple", "processes": 1}},
     "give at least one per queue"),
    ({"m": {"tries": True}}, "tries must be a whole number"),
    ({"m": 3}, "supervisor m: its settings must be an object"),
])
def test_bad_settings_are_one_line_naming_the_key(raw, message):
    with pytest.raises(SupervisorConfigError, match=None) as caught:
        parse(raw)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, QueueError)


def test_a_queue_in_two_balancing_supervisors_is_allowed():
    assert len(parse({"m": {"queues": ["a"]}, "n": {"queues": ["a"]}})) == 2


def test_a_crash_loop_backs_off_to_once_a_minute_and_logs_once_a_minute():
    policy, now, logged = RestartPolicy(), 0.0, 0
    delays = []
    while now < 600:
        policy.exited(crashed=True, ran_for=0.5, now=now)
        logged += policy.should_log(now)
        delays.append(policy.not_before - now)
        now = policy.not_before + 0.5  # restarted when allowed, dies half a second later
    assert delays[:7] == [1, 2, 4, 8, 16, 32, BACKOFF_CAP]
    assert set(delays[6:]) == {BACKOFF_CAP}
    assert logged <= 600 / 60 + 1


def test_a_clean_exit_is_replaced_at_once_and_resets_the_backoff():
    policy = RestartPolicy()
    for now in range(5):
        policy.exited(crashed=True, ran_for=0.1, now=float(now))
    policy.exited(crashed=False, ran_for=3.0, now=10.0)
    assert policy.may_start(10.0)
    policy.exited(crashed=True, ran_for=0.1, now=11.0)
    assert policy.not_before == 12.0
