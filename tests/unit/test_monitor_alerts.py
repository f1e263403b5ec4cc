"""When queue:monitor raises the alarm for a queue (QueueSize.alerts): pure, no database."""

from __future__ import annotations

from app.queue.admin import QueueSize


def sized(size: int, oldest_age: float | None) -> QueueSize:
    return QueueSize("q", size, size, 0, 0, None, oldest_age)


def test_a_queue_is_over_max_only_with_more_jobs_than_max():
    assert sized(100, None).alerts(100, None) == []
    assert sized(101, None).alerts(100, None) == ["101 jobs > --max 100"]
    assert sized(1, None).alerts(0, None) == ["1 job > --max 0"]


def test_the_oldest_wait_counts_only_when_max_wait_is_given():
    assert sized(1, 3600.0).alerts(10, None) == []
    assert sized(1, 30.0).alerts(10, 30) == []
    assert sized(1, 31.0).alerts(10, 30) == ["oldest pending waited 31s > --max-wait 30"]
    assert sized(0, None).alerts(10, 0) == []  # nothing pending: nothing waits


def test_both_reasons_are_given():
    assert len(sized(50, 99.0).alerts(10, 5)) == 2
