"""`supervise` with bad supervisor settings: one line, exit 1 (2 for a bad option), and nothing
started or written (the unreachable DATABASE_URL proves the settings are checked first)."""

from __future__ import annotations

import json

import pytest

from tests.support import artisan

NOWHERE = "postgresql://nobody@127.0.0.1:1/x"


def supervise(supervisors: object, *args: str):
    raw = supervisors if isinstance(supervisors, str) else json.dumps(supervisors)
    return artisan("supervise", *args, env={"QUEUE_SUPERVISORS": raw, "DATABASE_URL": NOWHERE},
                   timeout=30)


@pytest.mark.parametrize(("supervisors", "line"), [
    ({"main": {"connection": "reports"}},
     "error: supervisor main: unknown connection 'reports' (a supervisor runs queue:work on: "
     "database)"),
    ({"main": {"min_processes": 4, "max_processes": 2}},
     "error: supervisor main: min_processes (4) is above max_processes (2)"),
    ({"a": {"queues": ["x"], "balance": "off", "processes": 2}, "b": {"queues": ["x"]}},
     "error: queue 'x' is in supervisors a and b, and a has balance 'off': give each queue "
     "one supervisor"),
    ({"main": {"queues": ["x"], "max_procs": 2}},
     "error: supervisor main: unknown setting 'max_procs' (known: auto_scaling_strategy, "
     "balance, balance_cooldown, balance_max_shift, concurrency, connection, max_jobs, "
     "max_processes, max_time, memory, min_processes, processes, queues, sleep, timeout, "
     "tries)"),
    ({"main": {"queues": "x", "timeout": "soon"}},
     "error: supervisor main: timeout must be a number of seconds, 0 or more, not 'soon'"),
    ("{main: 1}", "error: invalid value for QUEUE_SUPERVISORS: '{main: 1}' (not JSON: "
                  "Expecting property name enclosed in double quotes at character 1)"),
    ("[]", "error: invalid value for QUEUE_SUPERVISORS: '[]' (must be a JSON object: "
           "supervisor name -> settings)"),
])
def test_bad_supervisor_settings_are_one_line_and_exit_1(supervisors, line):
    result = supervise(supervisors)
    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (1, [line], "")


def test_no_supervisor_declared_is_one_line():
    result = supervise({})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: no supervisors: declare them in config/queue.py (SUPERVISORS) or "
        "QUEUE_SUPERVISORS"]


def test_an_unknown_supervisor_option_is_a_usage_error():
    result = supervise({"main": {"queues": ["x"]}}, "--supervisor", "other")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: invalid value for --supervisor: no supervisor 'other' (declared: main)"]
