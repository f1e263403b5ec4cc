"""How long a failed attempt waits before the next one."""

from __future__ import annotations

from collections.abc import Sequence

from app.queue.settings import MAX_BACKOFF


def backoff_delay(
    attempt: int,
    job_backoff: float | Sequence[float] | None,
    default: float | None = None,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    The job's own backoff wins: a number, or a list whose n-th value follows attempt n (its
    last value repeats). Else `default` (`--backoff`, then `JOB_RETRY_DELAY`). Else 1, 2, 4 …
    seconds, capped at an hour.
    """
    if job_backoff is not None:
        if isinstance(job_backoff, int | float):
            return float(job_backoff)
        if len(job_backoff) > 0:
            return float(job_backoff[min(attempt, len(job_backoff)) - 1])
    if default is not None:
        return float(default)
    return min(2.0 ** max(attempt - 1, 0), MAX_BACKOFF) if attempt < 64 else MAX_BACKOFF
