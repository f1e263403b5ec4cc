"""DashboardStore: the dashboard's own statements (queries.sql), one method each.

QueueAdmin (app/queue/admin.py) already reads counts, failed jobs, one job and the workers,
and retries; this class holds only what the dashboard needs beyond it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.queue.admin import FailedJob
from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.sql import load_queries

QUERIES = load_queries(Path(__file__).with_name("queries.sql"))

JOB_STATES = ("pending", "delayed", "reserved", "failed")

FAILED_IDS = 100
"""Failed job ids a batch's answer lists, at most."""

SCAN = 5_000
"""Rows of each table a page of jobs looks at, at most (see jobs_page in queries.sql)."""


@dataclass(frozen=True, slots=True)
class JobRow:
    id: str
    queue: str
    job_class: str | None
    state: str
    attempts: int
    progress: float | None
    at: dt.datetime | None
    """Created (waiting and reserved jobs) or failed (failed jobs)."""

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> JobRow:
        return cls(row.id, row.queue, row.job_class, row.state, row.attempts, row.progress,
                   row.at)


@dataclass(frozen=True, slots=True)
class JobPage:
    rows: list[JobRow]
    next_before: str | None
    """Where the next page starts; None when this one reached the oldest job."""
    searched_out: bool
    """Fewer than a page matched among the rows this page looked at (SCAN per table)."""


@dataclass(frozen=True, slots=True)
class JobFilter:
    state: str | None = None
    queue: str | None = None
    job_class: str | None = None


@dataclass(frozen=True, slots=True)
class FailedFilter:
    """The failed-jobs page's filter (None: all)."""

    queue: str | None = None
    job_class: str | None = None

    @property
    def query(self) -> dict[str, str | None]:
        """As the page's query string has it."""
        return {"queue": self.queue, "class": self.job_class}


@dataclass(frozen=True, slots=True)
class BatchRow:
    """A row of job_batches, with the figures SPEC §9's `Batch` names."""

    id: str
    name: str
    total_jobs: int
    pending_jobs: int
    failed_jobs: int
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    finished_at: dt.datetime | None
    failed_job_ids: list[str] | None
    """The first FAILED_IDS of them (None in a list of batches)."""

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> BatchRow:
        return cls(**row._asdict())

    @property
    def processed_jobs(self) -> int:
        """Jobs that finished, failed ones included (Laravel's processedJobs())."""
        return self.total_jobs - self.pending_jobs

    @property
    def progress(self) -> float:
        """0-100, as Batch.progress; an empty batch is done."""
        return 100.0 * self.processed_jobs / self.total_jobs if self.total_jobs else 100.0

    @property
    def state(self) -> str:
        """cancelled, finished or running: a cancelled batch may still be finishing jobs
        that were running when it was cancelled, and it reads as cancelled meanwhile."""
        if self.cancelled_at is not None:
            return "cancelled"
        return "finished" if self.finished_at is not None else "running"


@dataclass(frozen=True, slots=True)
class WorkerTotals:
    live: int
    processed: int
    failed: int


@dataclass(frozen=True, slots=True)
class MinuteMetrics:
    minute: int
    """Unix seconds of the minute's start."""
    processed: int
    failed: int
    runtime_avg: float | None
    runtime_max: float | None
    wait_avg: float | None
    wait_max: float | None


@dataclass(frozen=True, slots=True)
class GroupMetrics:
    """A job class's or a queue's attempts over a window (metrics_by)."""

    name: str
    """The class path, or the queue."""
    processed: int
    failed: int
    runtime_avg: float | None
    runtime_max: float | None
    wait_avg: float | None
    wait_max: float | None

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> GroupMetrics:
        return cls(**row._asdict())


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    """A (queue, class) pair's attempts over a window (class_metrics)."""

    queue: str
    job_class: str | None
    """None: every class of the queue beyond the busiest pairs, summed."""
    processed: int
    failed: int
    runtime_avg: float | None
    runtime_max: float | None
    wait_avg: float | None
    wait_max: float | None

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> ClassMetrics:
        return cls(**row._asdict())


@dataclass(frozen=True, slots=True)
class RecentMetrics:
    queue: str
    processed: int
    failed: int
    runtime_avg: float | None
    runtime_max: float | None
    wait_avg: float | None
    wait_max: float | None
    runtime_total: float
    wait_total: float
    runtime_buckets: list[int] | None
    """Attempts per bucket of app.queue.metrics.BUCKETS (the last: above them); None for
    minutes written before the buckets were."""
    wait_buckets: list[int] | None

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> RecentMetrics:
        return cls(**row._asdict())


class DashboardStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def _run(self, name: str, params: dict[str, Any]) -> list[sa.Row[Any]]:
        with translated_errors(self.engine.url), self.autocommit.connect() as conn:
            return list(conn.execute(QUERIES[name], params))

    def _do(self, name: str, params: dict[str, Any]) -> None:
        """A statement that returns no rows."""
        with translated_errors(self.engine.url), self.autocommit.connect() as conn:
            conn.execute(QUERIES[name], params)

    def jobs(self, where: JobFilter, before: str | None, limit: int,
             scan: int = SCAN) -> JobPage:
        # Unfiltered, every row looked at is shown: a page need look at no more than itself.
        scan = limit if where == JobFilter() else max(scan, limit)
        rows = self._run("jobs_page", {"state": where.state, "queue": where.queue,
                                       "job_class": where.job_class, "before": before,
                                       "limit": limit, "scan": scan})
        found = [JobRow.from_row(row) for row in rows if row.id is not None]
        if len(found) == limit:
            return JobPage(found, found[-1].id, searched_out=False)
        searched_to = rows[0].searched_to
        return JobPage(found, searched_to, searched_out=searched_to is not None)

    def payload_and_batch(self, job_id: str) -> tuple[Any, str | None]:
        """(the stored payload, the id of the job's batch); (None, None) for no such job."""
        rows = self._run("job_payload", {"id": job_id})
        return (rows[0].payload, rows[0].batch_id) if rows else (None, None)

    def failed(self, where: FailedFilter, limit: int, after: str | None
               ) -> list[FailedJob] | None:
        """A page of failed jobs, newest first; None when `after` names no failed job."""
        rows = self._run("failed_page", {"queue": where.queue, "job_class": where.job_class,
                                         "after": after, "limit": limit})
        if not rows and after is not None and not self._run("is_failed_job",
                                                            {"id": after})[0].found:
            return None
        return [FailedJob.from_row(row) for row in rows]

    def failed_ids_matching(self, where: FailedFilter, before: dt.datetime) -> list[str]:
        rows = self._run("failed_ids_matching", {"queue": where.queue,
                                                 "job_class": where.job_class,
                                                 "before": before})
        return [row.id for row in rows]

    def forget_failed(self, ids: Sequence[str]) -> list[str]:
        return [row.id for row in self._run("forget_failed_jobs", {"ids": list(ids)})]

    def forget_failed_matching(self, where: FailedFilter, before: dt.datetime) -> int:
        rows = self._run("forget_failed_matching", {"queue": where.queue,
                                                    "job_class": where.job_class,
                                                    "before": before})
        return int(rows[0].deleted)

    def batches(self, before: str | None, limit: int) -> list[BatchRow]:
        rows = self._run("batches_page", {"before": before, "limit": limit})
        return [BatchRow.from_row(row) for row in rows]

    def batch(self, batch_id: str) -> BatchRow | None:
        rows = self._run("batch", {"id": batch_id, "failed_ids": FAILED_IDS})
        return BatchRow.from_row(rows[0]) if rows else None

    def worker_totals(self, retry_after: float) -> WorkerTotals:
        row = self._run("worker_totals", {"retry_after": retry_after})[0]
        return WorkerTotals(int(row.live), int(row.processed), int(row.failed))

    def history(self, minutes: int, queue: str | None = None,
                job_class: str | None = None) -> list[MinuteMetrics]:
        rows = self._run("metrics_history", {"minutes": minutes, "queue": queue,
                                             "job_class": job_class})
        return [MinuteMetrics(row.minute, row.processed, row.failed, row.runtime_avg,
                              row.runtime_max, row.wait_avg, row.wait_max) for row in rows]

    def metrics_by(self, by: str, minutes: int) -> list[GroupMetrics]:
        """Per job class (`by` "class") or per queue ("queue"), busiest first."""
        rows = self._run("metrics_by", {"by": by, "minutes": minutes})
        return [GroupMetrics.from_row(row) for row in rows]

    def class_metrics(self, minutes: int, series: int) -> list[ClassMetrics]:
        """The `series` busiest (queue, class) pairs, and the rest of each queue in one row."""
        rows = self._run("class_metrics", {"minutes": minutes, "series": series})
        return [ClassMetrics.from_row(row) for row in rows]

    def recent(self, minutes: int) -> list[RecentMetrics]:
        rows = self._run("recent_metrics", {"minutes": minutes})
        return [RecentMetrics.from_row(row) for row in rows]

    def open_session(self, id_hash: str, hours: int) -> None:
        self._do("open_session", {"id_hash": id_hash, "hours": hours})

    def session_is_live(self, id_hash: str) -> bool:
        return bool(self._run("session_is_live", {"id_hash": id_hash})[0].live)

    def close_session(self, id_hash: str) -> None:
        self._do("close_session", {"id_hash": id_hash})

    def classes_named(self, short_name: str, scan: int = SCAN) -> list[str]:
        """Full class paths ending in `.short_name` (at most 10, sorted)."""
        rows = self._run("classes_named", {"short_name": short_name, "scan": scan})
        return [row.job_class for row in rows]
