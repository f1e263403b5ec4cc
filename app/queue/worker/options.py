"""What a worker is told (WorkerOptions), why it stopped (StopReason), and what it reports
about each job (JobEvent): the values the console builds and reads."""

from __future__ import annotations

import enum
from dataclasses import dataclass

MAX_CONCURRENCY = 1000
"""Slots one worker process may run. Each running a plain job is an OS thread: 1,000 start
in ~0.7 s and reserve ~9 GB of address space (8 MB of stack each, ~72 MB resident), and
`--concurrency 100000` spent 11 s and 611 MB before the OS refused a thread. Past a few
hundred threads the GIL, not the slots, is the limit: more processes serve better."""


class StopReason(enum.StrEnum):
    SIGNAL = "signal"
    RESTART = "restart signal"
    EMPTY = "queue empty"
    ONCE = "once"
    MAX_JOBS = "max jobs"
    MAX_TIME = "max time"
    MEMORY = "memory limit"
    STUCK_JOB = "stuck job"
    PAUSED = "queues paused"
    """--stop-when-empty found nothing to claim, but a paused queue of its holds jobs."""


@dataclass(frozen=True)
class WorkerOptions:
    queues: tuple[str, ...] = ("default",)
    concurrency: int = 1
    sleep: float = 3.0
    """Fallback poll interval; LISTEN/NOTIFY wakes the worker sooner."""
    tries: int | None = None
    timeout: float | None = None
    backoff: float | None = None
    memory: int | None = None
    """MB of RSS after which the worker exits (checked after each job)."""
    max_jobs: int | None = None
    max_time: float | None = None
    stop_when_empty: bool = False
    once: bool = False
    rest: float = 0.0
    name: str = "default"
    listen: bool = True


@dataclass(frozen=True, slots=True)
class JobEvent:
    """What the worker tells its reporter about a job (the console prints one line each)."""

    state: str  # RUNNING, DONE, RETRY, LIMITED, FAIL
    job_id: str
    class_name: str
    queue: str
    duration: float | None = None
    detail: str | None = None
    attempt: int = 0
