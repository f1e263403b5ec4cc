"""What the runner decides, without a database."""

from __future__ import annotations


def test_retry_after_refuses_nonsense_delays():
    import pytest

    from app.queue import RetryAfter

    for bad in (float("nan"), float("inf"), -1):
        with pytest.raises(ValueError, match="RetryAfter"):
            RetryAfter(bad)
    assert RetryAfter(2).seconds == 2.0
