"""Arguments of the built-in middleware, checked when it is built (in `middleware()`)."""

from __future__ import annotations

import math
from typing import Any

from app.queue.settings import MAX_DELAY


def limit_key(key: Any, prefix: str) -> str:
    """`prefix:key`: a RateLimited and a ConcurrencyLimit of the same name never share rows."""
    if not isinstance(key, str) or not key:
        raise TypeError(f"a limit's key must be a non-empty str, not {key!r}")
    return f"{prefix}:{key}"


def positive_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number, not {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


def seconds(value: Any, name: str, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, not {value!r}")
    number = float(value)
    if not math.isfinite(number) or number > MAX_DELAY or number < 0 \
            or (number == 0 and not allow_zero):
        least = "0 or more" if allow_zero else "more than 0"
        raise ValueError(f"{name} must be a number of seconds, {least}, not {value!r}")
    return number


def optional_seconds(value: Any, name: str, allow_zero: bool = False) -> float | None:
    return None if value is None else seconds(value, name, allow_zero)
