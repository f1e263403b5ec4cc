"""`batch([...])` and `Batch`: jobs that run in parallel, with callbacks when they are done.

A batch is a `job_batches` row (its counters, and its then/catch/finally_ jobs as ready-made
rows in `options`) and the `batch_id` of its jobs. Counters change in the statement that
records each job's outcome (claim_jobs, fail_job in db/queries.sql), so every callback is
enqueued exactly once, whoever is killed when. The counters are Laravel's (Illuminate\\Bus):
`pending_jobs` counts down on success only, so a failed job stays pending; `processed_jobs`
is total - pending; every job has run when pending = failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.queue import context, events, fakes
from app.queue.bus.chain import PendingChain
from app.queue.bus.rows import callback_row, require_job
from app.queue.connections.database.batches import (
    ADD_TO_BATCH_SQL,
    BATCH_FOR_ADD_SQL,
    INSERT_BATCH_SQL,
    BatchStore,
)
from app.queue.connections.records import NewJob
from app.queue.dispatcher import connection_of, new_row, refuse_sync_connection
from app.queue.errors import QueueDatabaseError, QueueError
from app.queue.ids import new_id
from app.queue.job import Job
from app.queue.names import check_queue_name

if TYPE_CHECKING:
    from app.queue.dispatcher import Transaction

Item = Job | PendingChain | Sequence[Job]
"""A batch item: a job, or a chain (`chain([...])` or a list of jobs), which counts as one."""


@dataclasses.dataclass(frozen=True)
class Batch:
    """A batch as read from job_batches (`fresh()` reads it again)."""

    id: str
    name: str
    total_jobs: int
    pending_jobs: int
    failed_jobs: int
    failed_job_ids: tuple[str, ...]
    created_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    finished_at: dt.datetime | None
    allows_failures: bool = False

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> Batch:
        options = json.loads(row.options)
        return cls(row.id, row.name, row.total_jobs, row.pending_jobs, row.failed_jobs,
                   tuple(row.failed_job_ids), row.created_at, row.cancelled_at,
                   row.finished_at, bool(options.get("allow_failures")))

    @property
    def processed_jobs(self) -> int:
        return self.total_jobs - self.pending_jobs

    @property
    def progress(self) -> int:
        """Percent of the jobs processed, 0 to 100 (Laravel's progress())."""
        return round(self.processed_jobs / self.total_jobs * 100) if self.total_jobs else 0

    @property
    def finished(self) -> bool:
        """Every job has run (succeeded, failed for good, or skipped as cancelled)."""
        return self.finished_at is not None

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def has_failures(self) -> bool:
        return self.failed_jobs > 0

    def fresh(self) -> Batch:
        found = find_batch(self.id)
        if found is None:
            raise QueueError(f"batch {self.id} no longer exists (pruned?)")
        return found

    def cancel(self) -> bool:
        return cancel_batch(self.id)

    def add(self, jobs: Iterable[Item], connection: Transaction | None = None
            ) -> Batch:
        """Add jobs (or chains) to this batch, on its queue (on_queue()); its counters grow in
        the same transaction. A batch that has finished (its then/finally_ jobs have run) or
        was cancelled takes no more: that is a QueueError, and nothing is added."""
        items = list(jobs)
        with context.current().store.transaction(connection_of(connection)) as raw:
            found = raw.execute(BATCH_FOR_ADD_SQL, {"id": self.id}).fetchone()
            if found is None:
                raise QueueError(f"batch {self.id} does not exist")
            refuse_ended(self.id, finished_at=found[0], cancelled_at=found[1])
            members = member_rows(self.id, items, found[2])
            raw.execute(ADD_TO_BATCH_SQL, {"id": self.id, "count": len(members)})
            context.current().store.copy_members(raw, self.id, members)
        return dataclasses.replace(self, total_jobs=self.total_jobs + len(members),
                                   pending_jobs=self.pending_jobs + len(members),
                                   finished_at=None)


def refuse_ended(batch_id: str, finished_at: dt.datetime | None,
                 cancelled_at: dt.datetime | None) -> None:
    """Jobs added to a cancelled batch would run; to a finished one, run its then/finally_
    jobs a second time once they are done."""
    if cancelled_at is not None:
        raise QueueError(f"batch {batch_id} was cancelled: no jobs can be added to it "
                         "(dispatch a new batch)")
    if finished_at is not None:
        raise QueueError(f"batch {batch_id} has finished (its callbacks have run): no jobs "
                         "can be added to it (dispatch a new batch)")


class PendingBatch:
    """What `batch([...])` returns: set it up, then `.dispatch()`."""

    def __init__(self, jobs: Iterable[Item]) -> None:
        self.jobs: list[Item] = list(jobs)
        if not self.jobs:
            raise ValueError("batch() needs at least one job")
        self.batch_name = ""
        self.queue: str | None = None
        self.allows_failures = False
        self.callbacks: dict[str, Job] = {}

    def name(self, name: str) -> PendingBatch:
        if not isinstance(name, str):
            raise TypeError(f"a batch's name is a str, not {type(name).__name__}")
        self.batch_name = name
        return self

    def then(self, job: Job) -> PendingBatch:
        """Dispatched once when every job has succeeded."""
        self.callbacks["then"] = require_job(job, "then()")
        return self

    def catch(self, job: Job) -> PendingBatch:
        """Dispatched once, at the first job that fails for good."""
        self.callbacks["catch"] = require_job(job, "catch()")
        return self

    def finally_(self, job: Job) -> PendingBatch:
        """Dispatched once when every job has run, whatever the outcomes."""
        self.callbacks["finally"] = require_job(job, "finally_()")
        return self

    def allow_failures(self, allow: bool = True) -> PendingBatch:
        """Without it, the first failure cancels the batch (its waiting jobs never run)."""
        self.allows_failures = allow
        return self

    def on_queue(self, queue: str) -> PendingBatch:
        """Run every job of the batch, and its callbacks, on `queue`."""
        self.queue = check_queue_name(queue)
        return self

    def dispatch(self, connection: Transaction | None = None) -> Batch:
        """Write the batch and COPY its jobs in, in one transaction (the caller's, with
        `connection`); every job is checked first, so one bad job enqueues nothing."""
        batch_id = new_id()
        if (fake := fakes.active()) is not None:
            return fake.push_batch(self, batch_id)
        refuse_sync_connection("a batch")
        members = member_rows(batch_id, self.jobs, self.queue)
        options: dict[str, Any] = {name: callback_row(job, self.queue, {"batch_id": batch_id})
                                   for name, job in self.callbacks.items()}
        options["allow_failures"] = self.allows_failures
        if self.queue is not None:  # for Batch.add(), whose jobs go where the first did
            options["queue"] = self.queue
        store = context.current().store
        with store.transaction(connection_of(connection)) as raw:
            raw.execute(INSERT_BATCH_SQL, {"id": batch_id, "name": self.batch_name,
                                           "total": len(members),
                                           "options": json.dumps(options)})
            store.copy_members(raw, batch_id, members)
        return Batch(batch_id, self.batch_name, len(members), len(members), 0, (), None, None,
                     None, self.allows_failures)


def member_rows(batch_id: str, items: Sequence[Item], queue: str | None
                ) -> list[tuple[NewJob, str | None]]:
    """Each item's row (a chain's: its first job's, with the rest of the chain)."""
    ctx = context.current()
    rows: list[tuple[NewJob, str | None]] = []
    for item in items:
        if isinstance(item, Job):
            rows.append((new_row(item, queue, None, ctx), None))
            continue
        if not isinstance(item, PendingChain):
            if isinstance(item, str | bytes) or not isinstance(item, Sequence):
                raise TypeError(f"a batch item is a Job, a chain([...]) or a list of jobs, "
                                f"not {type(item).__name__}")
            item = PendingChain(item)
        rows.append(item.rows(batch_id, queue))
    return rows


def batch(jobs: Iterable[Item]) -> PendingBatch:
    """`batch([...]).name(…).then(…).catch(…).finally_(…).allow_failures().dispatch()`."""
    return PendingBatch(jobs)


def batch_store() -> BatchStore:
    return BatchStore(context.current().store.engine)


def find_batch(batch_id: str) -> Batch | None:
    row = batch_store().find(batch_id)
    return Batch.from_row(row) if row is not None else None


def recent_batches(limit: int = 50) -> list[Batch]:
    """The newest batches first (queue:batches)."""
    return [Batch.from_row(row) for row in batch_store().recent(limit)]


def cancel_batch(batch_id: str) -> bool:
    """Cancel a batch: its waiting jobs never run, running ones see `.cancelled`. True if it
    was not cancelled already (False too for an unknown id)."""
    return batch_store().cancel(batch_id) is not None


def announce_finished(batch_ids: Sequence[str]) -> None:
    """Fire BatchFinished for batches this process's statement finished. The batch is read
    only when someone listens; if it cannot be read, the event says its id only."""
    if not events.has_listeners(events.BatchFinished):
        return
    for batch_id in batch_ids:
        found = None
        with contextlib.suppress(QueueDatabaseError):
            found = find_batch(batch_id)
        events.fire(events.BatchFinished(batch_id, found.name if found else None,
                                         found.failed_jobs if found else 0))
