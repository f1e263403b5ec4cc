"""QueueAdmin: what the operating commands read and repair. One method per query in admin.sql.

JobStore runs the worker's statements; this class runs the operator's (list, retry, forget,
flush, clear, status, monitor, find a job, list workers). Neither knows about the CLI or config/.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.sql import ADMIN_QUERIES
from app.queue.connections.database.sql import QUERIES as STORE_QUERIES

QUERIES = {**ADMIN_QUERIES, **{name: STORE_QUERIES[name] for name in ("notify_queues", "now")}}
"""admin.sql's statements, and the two of queries.sql the operator's commands share with the
worker (waking a queue's workers, the database clock): each is written once."""

RETRY_BATCH = 1000
"""Failed jobs moved back per statement (and per transaction) by queue:retry."""

_CHAINED = ("The above exception was the direct cause of the following exception:",
            "During handling of the above exception, another exception occurred:")


class JobState(enum.StrEnum):
    PENDING = "pending"
    DELAYED = "delayed"
    RESERVED = "reserved"
    FAILED = "failed"


class WorkerState(enum.StrEnum):
    LIVE = "live"
    STOPPED = "stopped"
    DEAD = "dead"


def class_name(job_class: str | None) -> str:
    """The last segment of a job's class path (`app.jobs.mail.SendMail` -> `SendMail`)."""
    return job_class.rsplit(".", 1)[-1] if job_class else "?"


def error_summary(text: str | None) -> str:
    """The line that says what went wrong: for a traceback, its exception line (the last of a
    chain, not that of a note appended after it), else the first line of the text."""
    lines = (text or "").splitlines()
    summary = next((line.strip() for line in lines if line.strip()), "")
    if summary != "Traceback (most recent call last):":
        return summary  # a message of its own (JobTimeout: …, PayloadError: …) comes first
    in_frames = False
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            in_frames = True
        elif in_frames and line and not line[0].isspace():
            summary, in_frames = line.strip(), False
            if not _is_chained(lines[index + 1:]):
                break
    return summary


def _is_chained(rest: Sequence[str]) -> bool:
    following = next((line.strip() for line in rest if line.strip()), "")
    return following in _CHAINED


@dataclass(frozen=True, slots=True)
class FailedJob:
    id: str
    queue: str
    job_class: str | None
    attempts: int
    exception: str
    failed_at: dt.datetime

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> FailedJob:
        return cls(row.id, row.queue, row.job_class, row.attempts, row.exception, row.failed_at)

    @property
    def error(self) -> str:
        return error_summary(self.exception)


@dataclass(frozen=True, slots=True)
class RetryResult:
    retried: tuple[str, ...]
    queues: tuple[str, ...]
    """The queues the retried jobs went back to (their idle workers were woken)."""
    unknown: tuple[str, ...] = ()
    """Ids asked for that are not in failed_jobs."""
    kept: tuple[str, ...] = ()
    """Failed jobs left in failed_jobs because a job with their id is queued again."""
    held: tuple[str, ...] = ()
    """Failed unique jobs left in failed_jobs because another job holds their lock (one
    queued or running since, or another failed copy retried with them)."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    queue: str
    pending: int
    delayed: int
    reserved: int
    failed: int
    oldest_pending_at: dt.datetime | None
    oldest_pending_age: float | None
    """Seconds the oldest pending (available) job has been waiting."""
    paused: bool

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> QueueStats:
        return cls(row.queue, row.pending, row.delayed, row.reserved, row.failed,
                   row.oldest_pending_at, row.oldest_pending_age, row.paused)


@dataclass(frozen=True, slots=True)
class QueueSize:
    """What queue:monitor reads of one queue."""

    queue: str
    size: int
    """Every job of the queue not yet done: pending + delayed + reserved (Laravel's size)."""
    pending: int
    delayed: int
    reserved: int
    oldest_pending_at: dt.datetime | None
    oldest_pending_age: float | None
    """Seconds the oldest pending (available, unclaimed) job has been waiting."""

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> QueueSize:
        return cls(row.queue, row.size, row.pending, row.delayed, row.reserved,
                   row.oldest_pending_at, row.oldest_pending_age)

    def alerts(self, max_size: int, max_wait: float | None) -> list[str]:
        """Why this queue needs attention: more than `max_size` jobs, or a pending job waiting
        more than `max_wait` seconds. Empty when it does not."""
        reasons = []
        if self.size > max_size:
            jobs = f"{self.size:,} job{'s' if self.size != 1 else ''}"
            reasons.append(f"{jobs} > --max {max_size}")
        if self.has_waited_over(max_wait):
            reasons.append(f"oldest pending waited {self.oldest_pending_age:.0f}s > "
                           f"--max-wait {max_wait:g}")
        return reasons

    def has_waited_over(self, max_wait: float | None) -> bool:
        return (max_wait is not None and self.oldest_pending_age is not None
                and self.oldest_pending_age > max_wait)


@dataclass(frozen=True, slots=True)
class JobInfo:
    id: str
    state: JobState
    queue: str
    job_class: str | None
    attempts: int
    priority: int | None
    progress: float | None
    progress_message: str | None
    error: str | None
    """jobs.last_error, or failed_jobs.exception: full text."""
    created_at: dt.datetime | None
    available_at: dt.datetime | None
    reserved_at: dt.datetime | None
    failed_at: dt.datetime | None
    worker_id: str | None
    worker_name: str | None
    worker_host: str | None
    worker_pid: int | None
    batch_id: str | None = None
    chain_id: str | None = None
    chain_steps_after: int | None = None
    """Jobs of its chain still to come after it (for a failed job: that never ran)."""
    arguments: Any = None
    """The stored arguments (the payload's `data`, tagged values as stored), or the string
    `[encrypted]` for an encrypted job."""

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> JobInfo:
        values = row._asdict()
        values["state"] = JobState(values["state"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    name: str
    host: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    running: int
    processed: int
    failed: int
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    stopped_at: dt.datetime | None
    heartbeat_age: float
    """Seconds since its last heartbeat, by the database clock."""
    state: WorkerState

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> WorkerInfo:
        values = row._asdict()
        values["queues"] = tuple(values["queues"])
        values["state"] = WorkerState(values["state"])
        return cls(**values)


class QueueAdmin:
    """Reads and repairs the queue tables for the operating commands."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            yield conn

    def _run(self, name: str, params: dict[str, Any] | None = None,
             connection: Connection | None = None) -> list[sa.Row[Any]]:
        with translated_errors(self.engine.url):
            if connection is not None:
                return list(connection.execute(QUERIES[name], params or {}))
            with self.autocommit.connect() as conn:
                return list(conn.execute(QUERIES[name], params or {}))

    # ---------------------------------------------------------------------- failed jobs

    def failed_jobs(self, queue: str | None = None, limit: int = 50, offset: int = 0,
                    after: str | None = None) -> list[FailedJob] | None:
        """A page of failed jobs, newest first. None when `after` names no failed job."""
        after_at = None
        if after is not None:
            position = self._run("failed_job_position", {"id": after})
            if not position:
                return None
            after_at = position[0].failed_at
        rows = self._run("failed_jobs", {"queue": queue, "limit": limit, "offset": offset,
                                         "after_id": after, "after_at": after_at})
        return [FailedJob.from_row(row) for row in rows]

    def retry(self, ids: Sequence[str]) -> RetryResult:
        """Move these failed jobs back to `jobs`: one transaction per batch of ids."""
        wanted = list(dict.fromkeys(ids))
        rows: list[sa.Row[Any]] = []
        for start in range(0, len(wanted), RETRY_BATCH):
            with self._transaction() as conn:
                rows += self._move_back(wanted[start:start + RETRY_BATCH], conn)
        found = {row.id for row in rows}
        return self._result(rows, unknown=[job_id for job_id in wanted if job_id not in found])

    def retry_all(self, queue: str | None = None) -> RetryResult:
        """Move every job that failed before now (of `queue`) back, batch by batch: each batch
        picked and moved in one transaction, so its rows stay locked in between."""
        before = self.now()
        after_at, after_id = dt.datetime.min.replace(tzinfo=dt.UTC), ""
        rows: list[sa.Row[Any]] = []
        while True:
            with self._transaction() as conn:
                batch = self._run("failed_batch", {
                    "queue": queue, "before": before, "after_at": after_at,
                    "after_id": after_id, "limit": RETRY_BATCH}, conn)
                if batch:
                    rows += self._move_back([row.id for row in batch], conn)
            if not batch:
                return self._result(rows)
            after_at, after_id = batch[-1].failed_at, batch[-1].id

    def _move_back(self, ids: Sequence[str], conn: Connection) -> list[sa.Row[Any]]:
        moved = self._run("retry_failed_jobs", {"ids": list(ids)}, conn)
        self._notify(conn, {row.queue for row in moved if row.queue is not None})
        return moved

    @staticmethod
    def _result(rows: Sequence[sa.Row[Any]], unknown: Sequence[str] = ()) -> RetryResult:
        moved = [row for row in rows if row.queue is not None]
        return RetryResult(retried=tuple(row.id for row in moved),
                           queues=tuple(sorted({row.queue for row in moved})),
                           unknown=tuple(unknown),
                           kept=tuple(row.id for row in rows
                                      if row.queue is None and not row.held),
                           held=tuple(row.id for row in rows if row.held))

    def _notify(self, conn: Connection, queues: set[str]) -> None:
        if queues:
            self._run("notify_queues", {"queues": sorted(queues)}, conn)

    def forget(self, job_id: str) -> bool:
        return bool(self._run("forget_failed_job", {"id": job_id}))

    def flush(self, hours: float | None = None) -> int:
        """Delete failed jobs older than `hours` (all of them when None); return how many."""
        return int(self._run("flush_failed_jobs", {"hours": hours})[0].deleted)

    # ------------------------------------------------------------------------- jobs

    def clear(self, queue: str) -> int:
        """Delete the waiting (pending and delayed) jobs of `queue`; return how many."""
        return int(self._run("clear_queue", {"queue": queue})[0].deleted)

    def status(self, queues: Sequence[str] = ()) -> list[QueueStats]:
        """Counts per queue; `queues` are listed even when they have no rows."""
        rows = self._run("queue_status", {"queues": list(queues)})
        return [QueueStats.from_row(row) for row in rows]

    def monitor(self, queues: Sequence[str]) -> list[QueueSize]:
        """Size and oldest wait of each of `queues`, in that order."""
        rows = self._run("monitor_queues", {"queues": list(queues)})
        return [QueueSize.from_row(row) for row in rows]

    def known_queues(self, default: Sequence[str] = ()) -> list[str]:
        """Every queue a job or a live worker names, and `default`, sorted."""
        return [row.queue for row in self._run("known_queues", {"queues": list(default)})]

    def queue_is_known(self, queue: str) -> bool:
        """Whether any job, failed job or live worker names `queue`."""
        return bool(self._run("queue_is_known", {"queue": queue})[0].known)

    def find_job(self, job_id: str) -> JobInfo | None:
        rows = self._run("find_job", {"id": job_id})
        return JobInfo.from_row(rows[0]) if rows else None

    # ----------------------------------------------------------------------- workers

    def workers(self, retry_after: float, include_all: bool = False) -> list[WorkerInfo]:
        rows = self._run("workers", {"retry_after": retry_after, "include_all": include_all})
        return [WorkerInfo.from_row(row) for row in rows]

    def now(self) -> dt.datetime:
        return self._run("now")[0][0]
