"""Unique jobs: the lock a unique job holds, read from its class and checked at dispatch.

The lock IS the job's row: `jobs.unique_key` under a unique partial index, so the database
decides duplicates under any concurrency, and whatever takes the row out of `jobs` (the ack of
a success, the move of a final failure or a cancel to failed_jobs) frees the key in the same
transaction, with nothing more to write. `unique_until = "processing"` clears the key at the
claim; `unique_until` (the column) bounds the lock to `unique_for` seconds: the next unique
dispatch of that key clears an expired key before it inserts (queries.sql: insert_unique_job).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from app.queue.connections.records import UniqueLock
from app.queue.job import Job

UNTIL_PROCESSING = "processing"
UNTIL_VALUES = (None, UNTIL_PROCESSING)


def lock_of(job: Job) -> UniqueLock | None:
    """The lock `job` must take, or None for a plain job (its class leaves unique_for unset).
    `unique_id()` alone does not make a job unique: every job has one (the default, one per
    class), and a lock with no time bound would outlive a lost row's reason to exist. A bad
    setting is a TypeError or ValueError here, at dispatch, before anything is written."""
    if not is_unique(type(job)):
        return None
    return UniqueLock(f"{job.class_path()}:{_unique_id(job)}", _seconds(type(job)),
                      _until(type(job)) == UNTIL_PROCESSING)


def is_unique(cls: type[Job]) -> bool:
    """Does the class set unique_for? (The settings are the class's, as Laravel's are.)"""
    if cls.unique_for is None:
        if cls.unique_until is not None:
            raise ValueError(f"{cls.__qualname__} sets unique_until but not unique_for "
                             "(the seconds its lock lasts at most)")
        return False
    return True


def any_unique(jobs: Iterable[Job]) -> bool:
    """Is one of `jobs` unique? Asked once per class: 0.2 ms for a list of 10,000 plain jobs,
    where a lock_of() per job took 1.1 ms (1.5 % of their dispatch_many)."""
    return any([is_unique(cls) for cls in {type(job) for job in jobs}])


def _seconds(cls: type[Job]) -> float:
    value = cls.unique_for
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{cls.__qualname__}.unique_for must be a number of seconds, "
                        f"not {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{cls.__qualname__}.unique_for must be a finite number of "
                         f"seconds above 0, not {value!r}")
    return float(value)


def _until(cls: type[Job]) -> str | None:
    if cls.unique_until not in UNTIL_VALUES:
        raise ValueError(f"{cls.__qualname__}.unique_until must be \"processing\" or "
                         f"None, not {cls.unique_until!r}")
    return cls.unique_until


def _unique_id(job: Job) -> str:
    value = job.unique_id()
    if not isinstance(value, str):
        raise TypeError(f"{type(job).__qualname__}.unique_id() must return a str, not "
                        f"{type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"{type(job).__qualname__}.unique_id() returned a string with a NUL "
                         "character, which the database cannot store")
    return value
