"""The built-in middleware refuse bad arguments when built, in one clear line."""

from __future__ import annotations

import pytest

from app.queue.middleware import (
    ConcurrencyLimit,
    RateLimited,
    Skip,
    ThrottlesExceptions,
    WithoutOverlapping,
)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: RateLimited("k", 0, 1.0), "limit must be at least 1, not 0"),
    (lambda: RateLimited("k", -3, 1.0), "limit must be at least 1"),
    (lambda: RateLimited("k", 5, 0), "per must be a number of seconds, more than 0"),
    (lambda: RateLimited("k", 5, -1.0), "per must be"),
    (lambda: RateLimited("k", 5, float("nan")), "per must be"),
    (lambda: ConcurrencyLimit("k", 0), "n must be at least 1, not 0"),
    (lambda: ConcurrencyLimit("k", -1), "n must be at least 1"),
    (lambda: WithoutOverlapping("k", expire_after=0), "expire_after must be"),
    (lambda: WithoutOverlapping("k", release_after=-1), "release_after must be"),
    (lambda: ThrottlesExceptions(0, 60), "max_exceptions must be at least 1"),
    (lambda: ThrottlesExceptions(3, 0), "decay must be"),
])
def test_a_limit_or_period_of_zero_or_less_is_a_value_error(build, message) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("build", [
    lambda: RateLimited("", 5, 1.0),
    lambda: RateLimited(None, 5, 1.0),
    lambda: RateLimited("k", 2.5, 1.0),
    lambda: RateLimited("k", True, 1.0),
    lambda: ConcurrencyLimit("k", "3"),
    lambda: Skip.when("yes"),
])
def test_a_key_or_count_of_the_wrong_type_is_a_type_error(build) -> None:
    with pytest.raises(TypeError):
        build()
