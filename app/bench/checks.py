"""What a figure must pass before it is printed, and the statistics it is reported with."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

from app.queue.errors import QueueError


class BenchError(QueueError):
    """A figure could not be measured honestly (a check failed, a worker died, a timeout)."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise BenchError(message)


def check_ran_once(started: Iterable[int], expected: int, what: str) -> None:
    """Jobs 0 … expected-1 each started exactly once (other numbers, e.g. backlog, ignored)."""
    counts = Counter(i for i in started if 0 <= i < expected)
    missing = expected - len(counts)
    repeated = sum(1 for n in counts.values() if n > 1)
    require(not missing and not repeated,
            f"{what}: {missing} of {expected} jobs never ran and {repeated} ran more than once")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (as the peers' harness reports p99)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def rate(jobs: int, seconds: float) -> int:
    """Jobs per second, rounded: the precision a figure this noisy deserves."""
    return round(jobs / seconds) if seconds > 0 else 0
