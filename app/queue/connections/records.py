"""The rows that cross the queue store's boundary (any driver's): a job to insert, a job
claimed, what a failure or a cancel did."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: str
    queue: str
    payload: str
    attempts: int
    waited: float = 0.0
    """Seconds it waited between becoming available and this claim."""
    batch_id: str | None = None
    chain_id: str | None = None
    cancelled: bool = False
    """Cancelled while a worker held it before (that worker died): fail it, never run it."""


@dataclass(frozen=True, slots=True)
class FailRecorded:
    """A failure written to failed_jobs (by the job's holder)."""

    finished_batch: str | None = None
    """The batch this failure finished (its last job to run), if any."""


@dataclass(frozen=True, slots=True)
class UniqueLock:
    """The lock a unique job takes as it is inserted (app/queue/unique.py makes it)."""

    key: str
    """The job's class path, ":", its unique_id()."""
    seconds: float
    """How long the lock lasts at most (unique_for)."""
    at_start: bool
    """Freed when the job is claimed (unique_until = "processing")."""


class NewJob(NamedTuple):
    """A row to insert (a tuple: built once per job by dispatch_many, 4x cheaper than a
    frozen dataclass)."""

    id: str
    queue: str
    payload: str
    priority: int


class CancelOutcome(enum.StrEnum):
    """What cancel found, and did."""

    REMOVED = "removed"
    """It was waiting (pending or delayed): moved to failed_jobs, never to run."""
    STOPPING = "stopping"
    """It was running: its worker was asked to stop it."""
    FINISHED = "finished"
    """It had failed already (a job that succeeded leaves no row: UNKNOWN)."""
    UNKNOWN = "unknown"
    """No job has this id (or it succeeded and was deleted)."""
