"""Absurd numbers in any numeric option are a bad-option line and exit 2, through the real
`python artisan.py`: never a statement the database refuses, a sleep Python cannot take, or a
worker that starts with them."""

from __future__ import annotations

import pytest

from tests.cli.support import assert_error
from tests.support import artisan

HUGE_INT = "99999999999999999999"


@pytest.mark.parametrize(("command", "option", "value"), [
    ("queue:failed", "--limit", HUGE_INT),
    ("queue:failed", "--page", HUGE_INT),
    ("queue:failed", "--offset", HUGE_INT),
    ("queue:batches", "--limit", HUGE_INT),
    ("queue:monitor", "--max", HUGE_INT),
    ("queue:monitor", "--max-wait", "1e20"),
    ("queue:status", "--interval", "1e20"),
    ("queue:prune-batches", "--hours", "1e20"),
    ("queue:prune-batches", "--unfinished", "1e20"),
    ("queue:prune-batches", "--cancelled", "1e20"),
    ("queue:flush", "--hours", "1e20"),
    ("queue:prune-failed", "--hours", "1e20"),
    ("queue:work", "--sleep", "1e20"),
    ("queue:work", "--timeout", "1e20"),
    ("queue:work", "--backoff", "1e20"),
    ("queue:work", "--rest", "1e20"),
    ("queue:work", "--max-time", "1e20"),
    ("queue:work", "--tries", HUGE_INT),
    ("queue:work", "--memory", HUGE_INT),
    ("queue:work", "--max-jobs", HUGE_INT),
    ("queue:bench", "--jobs", HUGE_INT),
    ("queue:bench", "--timeout", "1e20"),
])
def test_an_absurd_number_in_a_numeric_option_is_a_bad_option_line(queue, command, option,
                                                                     value):
    args = [command, option, value]
    if command == "queue:work":
        args += ["--stop-when-empty", "--quiet"]
    result = artisan(*args, timeout=60)
    assert result.returncode == 2, result.stderr
    assert_error(result, f"invalid value for {option}", "from")
    assert "database" not in result.stderr


def test_the_bound_is_said_in_the_line(queue):
    result = artisan("queue:failed", "--limit", HUGE_INT)
    assert_error(result, "--limit: must be a number from 1 to 2,147,483,647, "
                         "not 99,999,999,999,999,999,999")


def test_the_largest_value_taken_is_still_taken(queue):
    assert artisan("queue:failed", "--limit", "2147483647").returncode == 0
    assert artisan("queue:prune-batches", "--hours", "876000").returncode == 0
