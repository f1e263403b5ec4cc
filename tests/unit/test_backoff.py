"""Backoff delays: a list repeats its last value; the default doubles up to an hour."""

from __future__ import annotations


def test_backoff_list_repeats_its_last_value_and_the_default_doubles_to_an_hour():
    from app.queue.backoff import backoff_delay

    assert [backoff_delay(n, [10, 60, 300]) for n in (1, 2, 3, 4)] == [10, 60, 300, 300]
    assert [backoff_delay(n, None) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff_delay(40, None) == 3600
    assert backoff_delay(2, None, default=7) == 7
    assert backoff_delay(2, 5, default=7) == 5
