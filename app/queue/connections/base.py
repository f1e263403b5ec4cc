"""The queue-store contract: everything the dispatcher, the worker, the admin commands, the
scheduler and the dashboard need from where jobs live, and nothing of how they live there.

A driver is a class (or a few) with these methods; `typing.Protocol` makes the check
structural, so a driver imports nothing from here but the records it returns. Today's one
driver is PostgreSQL (`app.queue.connections.database`): `JobStore` is its `QueueStore`, its
`Claimer` the claim through libpq itself, `BatchStore`, `LimitStore`, `MetricsStore` and
`QueueAdmin` the rest. The worker is handed a `QueueStore` and sees nothing else.

Driver-neutral on purpose: no SQL, no psycopg or SQLAlchemy type in a signature. Where a
caller hands a driver something only that driver understands (a transaction the user opened,
a row it returned), the type is `Any` and the method says what its driver expects. Errors are
the queue's own (`app.queue.errors`): a driver translates its client's errors at this line,
an outage as `DatabaseUnavailable` (the worker waits it out), any other refusal as a
`QueueDatabaseError` (the worker keeps the outcome and retries it).

Time is the store's: `now()`, every delay and every "older than" is measured on the server's
clock, never on the clock of the process asking.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from app.queue.connections.records import (
    CancelOutcome,
    ClaimedJob,
    FailRecorded,
    NewJob,
    UniqueLock,
)

T = TypeVar("T")


# ------------------------------------------------------------------------ the worker's


class Claimer(Protocol):
    """The worker's claim: one per worker, used by its main thread only."""

    finished_batches: list[str]
    """The batches the last call's acknowledgements finished (for BatchFinished)."""

    def claim(self, worker_id: str, queues: Sequence[str], limit: int,
              acks: Sequence[str] = (), carry_on: bool = False) -> list[ClaimedJob]:
        """Reserve up to `limit` available jobs of `queues` for `worker_id`, highest priority
        first, then oldest; paused queues are skipped. In the same atomic step, delete the
        jobs in `acks` (done since the last claim: a done job's delete rides on the next
        claim). `carry_on`: a member of a chain or batch is among `acks`, so its next step or
        its batch's callbacks are enqueued now (and may be claimed by this very call)."""

    def acknowledge(self, worker_id: str, acks: Sequence[str], carry_on: bool = False) -> None:
        """What `claim` does to `acks`, without claiming (a stopping or full worker's)."""

    def close(self) -> None:
        """Let go of the claim's connection (the worker is stopping)."""


class WakeupListener(Protocol):
    """A thread that hears the store's wake-ups (jobs pushed, cancels) and never raises."""

    ready: threading.Event
    """Set once it listens: jobs pushed after that wake the worker."""

    def start(self) -> None:
        """Start listening (a daemon thread)."""

    def stop(self) -> None:
        """Stop listening and wait briefly for the thread."""


class OutageReport(Protocol):
    """Where a driver's background thread says its link to the store went down or came back
    (the worker's OutageLog: one line per outage, not one per failed call)."""

    def down(self, part: str, reason: object) -> None:
        """`part` ("listener", "heartbeat" ...) lost the store; `reason` (an error, or a
        sentence) says why."""

    def up(self, part: str) -> None:
        """`part` reached the store again."""


class Beat(Protocol):
    """What a heartbeat tells the worker back."""

    was_presumed_dead: bool
    """Another worker gave this one's jobs back (no heartbeat for QUEUE_RETRY_AFTER)."""
    restart_at: dt.datetime | None
    """The last `queue:restart`: a worker started before it stops."""
    cancelled: Sequence[str]
    """Jobs reserved by this worker that were cancelled (a cancel notice it may have missed)."""


class MinuteTotals(Protocol):
    """One minute of one queue and job class, as the worker counted it in memory."""

    processed: int
    failed: int
    runtime_sum: float
    runtime_max: float
    wait_sum: float
    wait_max: float
    runtime_buckets: list[int]
    wait_buckets: list[int]


class MetricsWriter(Protocol):
    """Where the per-minute throughput counts go (from the heartbeat thread, never per job)."""

    def add(self, counts: Mapping[tuple[int, str, str], MinuteTotals]) -> None:
        """Add the counts of each (minute as Unix seconds, queue, job class) to what is
        stored for it (another worker may have counted the same minute)."""

    def prune(self, days: int) -> None:
        """Forget minutes older than `days`."""


# ---------------------------------------------------------------------- the one store


class QueueStore(Protocol):
    """Jobs, workers and queues: what dispatch and the worker read and write.

    Every outcome method takes the id of the worker that holds the job and does nothing (and
    says so: False, None) when the job is no longer that worker's: a worker presumed dead
    never overwrites what another decided since.
    """

    # push --------------------------------------------------------------------------------

    def insert_job(self, job: NewJob, delay: float, run_at: dt.datetime | None,
                   connection: Any = None, lock: UniqueLock | None = None) -> bool:
        """Push one job, available after `delay` seconds or at `run_at`, and wake the
        workers of its queue. With `lock`: only if no job holds that unique lock (False
        when one does, and nothing is pushed). `connection`: the caller's own open
        transaction (the driver's kind: a SQLAlchemy or psycopg connection for PostgreSQL);
        the job then exists only if that transaction commits."""

    def insert_jobs(self, jobs: Iterable[NewJob], connection: Any = None) -> None:
        """Push many jobs at once, available now (dispatch_many): one round trip, not one
        per job."""

    def insert_jobs_unique(self, jobs: Sequence[NewJob], locks: Sequence[UniqueLock | None],
                           connection: Any = None) -> set[str]:
        """Push many jobs, each with its unique lock or None; return the ids pushed (a job
        whose lock is held, or taken by an earlier one of `jobs`, is not)."""

    def insert_member(self, job: NewJob, batch_id: str | None, chain: str | None,
                      connection: Any = None) -> None:
        """Push one member of a batch (`batch_id`) or the first step of a chain (`chain`:
        the rest of the chain, as the driver stores it)."""

    def transaction(self, connection: Any = None) -> AbstractContextManager[Any]:
        """A transaction several pushes share (a batch and its jobs appear together or not
        at all): the caller's `connection` if given, else one of the store's. What it yields
        is the driver's handle, passed back to `copy_members`."""

    def copy_members(self, raw: Any, batch_id: str,
                     jobs: Sequence[tuple[NewJob, str | None]]) -> None:
        """Push a batch's members in bulk inside `transaction()`'s handle `raw`."""

    def notify(self, queues: Sequence[str]) -> None:
        """Wake the workers of `queues` (jobs became available without a push)."""

    # the worker's jobs ---------------------------------------------------------------------

    def claimer(self, prepare: bool | None = None) -> Claimer:
        """A claimer for one worker. `prepare=False`: no server-side prepared statements
        (PostgreSQL behind PgBouncer in transaction mode)."""

    def listener(self, queues: Collection[str], wake: Callable[[], None],
                 outage: OutageReport,
                 on_cancel: Callable[[str], None] = lambda note: None) -> WakeupListener:
        """A listener calling `wake()` when jobs are pushed to `queues` (and after every
        reconnect, when wake-ups may have been lost), and `on_cancel("<worker> <job>")` for
        each cancel notice."""

    def reserved_job(self, job_id: str, worker_id: str) -> ClaimedJob | None:
        """The job `worker_id` holds under this id, as a claim returned it (None: not its)."""

    def release(self, worker_id: str, job_id: str, delay: float, error: str | None) -> bool:
        """Put a job back for another attempt after `delay` seconds (its attempt counted),
        keeping `error` as its last error."""

    def release_limited(self, worker_id: str, job_id: str, delay: float) -> bool:
        """Put back a job a middleware limit held back: its attempt not counted."""

    def fail(self, worker_id: str, job_id: str, exception: str,
             error: str | None = None) -> FailRecorded | None:
        """Move a job to the failed jobs with its full error text `exception`; `error` is
        the one-line summary a chain's or batch's catch job gets. None: not the worker's."""

    def release_unstarted(self, worker_id: str, ids: Sequence[str]) -> None:
        """Give back jobs claimed ahead and never started, their attempt not counted."""

    def give_back_unseen(self, worker_id: str, known: Sequence[str]) -> list[str]:
        """After a claim whose answer was lost: give back every job reserved by `worker_id`
        that is not in `known`; return their ids."""

    def abandon_worker(self, worker_id: str, done: Sequence[str], unstarted: Sequence[str],
                       processed: int, failed: int) -> int:
        """A worker quitting at once: delete `done`, give back everything else it holds
        (`unstarted` without counting the attempt), mark it stopped; return how many went
        back."""

    def set_progress(self, worker_id: str, job_id: str, percent: float,
                     message: str | None) -> None:
        """Record a running job's progress (Job.progress)."""

    def cancel(self, job_id: str, exception: str) -> CancelOutcome:
        """Cancel one job: a waiting one fails at once with `exception`; a running one is
        marked, and its worker told (a cancel notice)."""

    def append_failure_note(self, job_id: str, note: str) -> None:
        """Add `note` to a failed job's error text (what its failed() hook raised)."""

    # workers -----------------------------------------------------------------------------

    def register_worker(self, worker_id: str, name: str, host: str, pid: int,
                        queues: Sequence[str], concurrency: int) -> dt.datetime:
        """Record a worker starting (or registering again after its record was lost);
        return when it started, on the store's clock."""

    def heartbeat(self, worker_id: str, running: int, processed: int,
                  failed: int) -> Beat | None:
        """Say the worker is alive, with its counts. None: its record is gone."""

    def stop_worker(self, worker_id: str, processed: int, failed: int, reason: str) -> None:
        """Record a worker stopping, and why."""

    def rescue_jobs_of_dead_workers(self, retry_after: float) -> list[str]:
        """Give back the jobs of workers silent for `retry_after` seconds; return their ids."""

    def prune_stopped_workers(self) -> None:
        """Forget workers stopped long ago."""

    def signal_restart(self) -> dt.datetime:
        """Ask every worker started before now to stop (queue:restart); return now."""

    # queues ------------------------------------------------------------------------------

    def pause(self, queue: str) -> bool:
        """Stop claims from `queue` (False: it was paused already)."""

    def resume(self, queue: str) -> bool:
        """Claim from `queue` again (False: it was not paused)."""

    def paused_queues(self) -> list[str]:
        """The queues paused now."""

    def pending_counts(self, queues: Sequence[str]) -> dict[str, int]:
        """Jobs waiting (available now) in each of `queues` that holds any."""

    def now(self) -> dt.datetime:
        """The store's clock."""

    # upkeep ------------------------------------------------------------------------------

    def jobs_since_vacuum(self) -> tuple[int, bool]:
        """Rows of jobs written since the store last cleaned up after them, and whether a
        clean-up is under way (the worker's BloatGuard asks)."""

    def vacuum_jobs(self) -> None:
        """Clean up after deleted jobs now (a driver that needs none does nothing)."""

    def metrics(self) -> MetricsWriter:
        """Where the per-minute counts of this store's workers are kept."""


# ------------------------------------------------------------------- composition, limits


class BatchStore(Protocol):
    """A batch's own record (its members are jobs, pushed through `QueueStore`). The rows
    returned have attribute access: id, name, total_jobs, pending_jobs, failed_jobs,
    cancelled_at, finished_at, created_at, options."""

    def find(self, batch_id: str) -> Any | None:
        """The batch, or None."""

    def recent(self, limit: int) -> list[Any]:
        """The newest `limit` batches."""

    def cancel(self, batch_id: str) -> Any | None:
        """Mark the batch cancelled and remove its waiting members; the batch, or None."""

    def failed_ids(self, batch_id: str) -> list[str]:
        """Its members that failed."""

    def prune(self, hours: float, unfinished: float | None, cancelled: float | None) -> int:
        """Forget finished batches older than `hours` (and unfinished or cancelled ones after
        their own ages); return how many."""


class LimitStore(Protocol):
    """Where job middleware keeps its limits (rate limits, concurrency, overlap)."""

    def decide(self, key: str, job_id: str, window: float,
               choose: Callable[[Any, Any], T]) -> T:
        """Call `choose(state, writes)` with the limit `key`'s state, the limit locked while
        it decides, and apply the writes it asks for; return what it returned."""

    def record(self, key: str, kind: str, job_id: str) -> None:
        """Record one `kind` event of `job_id` under `key`."""

    def forget_kind(self, key: str, kind: str) -> None:
        """Forget every `kind` event under `key`."""

    def free_hold(self, key: str, job_id: str) -> None:
        """Release the hold `job_id` has on `key`."""


# ----------------------------------------------------------- operating: admin, scheduler


class AdminStore(Protocol):
    """The operating commands' reads and repairs (queue:failed, queue:retry, queue:status,
    queue:monitor, queue:job, queue:workers …), and the dashboard's actions on failed jobs.
    Records returned are the frozen dataclasses of app.queue.admin."""

    def failed_jobs(self, queue: str | None = None, limit: int = 50, offset: int = 0,
                    after: str | None = None) -> list[Any] | None:
        """Failed jobs, newest first (None: `after` names no failed job)."""

    def retry(self, ids: Sequence[str]) -> Any:
        """Push failed jobs back to their queues, with fresh attempts."""

    def retry_all(self, queue: str | None = None) -> Any:
        """Push back every failed job (of `queue`)."""

    def forget(self, job_id: str) -> bool:
        """Delete one failed job."""

    def flush(self, hours: float | None = None) -> int:
        """Delete failed jobs (older than `hours`); return how many."""

    def clear(self, queue: str) -> int:
        """Delete the waiting jobs of `queue`; return how many."""

    def status(self, queues: Sequence[str] = ()) -> list[Any]:
        """Per queue: pending, delayed, reserved, failed, paused."""

    def monitor(self, queues: Sequence[str]) -> list[Any]:
        """Per queue: its size and the wait of its oldest job."""

    def find_job(self, job_id: str) -> Any | None:
        """One job wherever it is (waiting, running, failed)."""

    def workers(self, retry_after: float, include_all: bool = False) -> list[Any]:
        """The live workers (and the stopped ones too with `include_all`)."""

    def now(self) -> dt.datetime:
        """The store's clock."""


class ScheduleStore(Protocol):
    """The scheduler's runs: which task ran when, claimed once across schedulers. `conn` is
    the handle of the driver's transaction the scheduler holds while it decides a tick."""

    def now(self) -> dt.datetime:
        """The store's clock (the scheduler's window and its pruning both use it)."""

    def lock_task(self, conn: Any, task: str) -> None:
        """Hold `task` for the rest of the transaction."""

    def claim_run(self, conn: Any, task: str, due_at: dt.datetime, by: str) -> bool:
        """Record that `by` runs `task`'s run due at `due_at` (False: another did)."""

    def set_run_job(self, conn: Any, task: str, due_at: dt.datetime,
                    job_id: str | None) -> None:
        """The job a run dispatched."""

    def finish_run(self, task: str, due_at: dt.datetime, exit_code: int) -> None:
        """A command run ended with `exit_code`."""

    def last_run_busy(self, conn: Any, task: str, expires: float) -> bool:
        """Is the task's last run still going (without_overlapping)?"""

    def last_runs(self, tasks: Sequence[str]) -> dict[str, Any]:
        """Each task's last run."""

    def prune_runs(self) -> None:
        """Forget runs older than a day."""


class DashboardReads(Protocol):
    """The dashboard's pages and API, beyond what AdminStore gives: paged lists and the
    metrics history. `where` is the dashboard's own filter record (state, queue, class …);
    the rows returned are its records (app/dashboard/store.py)."""

    def jobs(self, where: Any, before: str | None, limit: int, scan: int = ...) -> Any:
        """A page of jobs matching `where`, older than the id `before`."""

    def payload_and_batch(self, job_id: str) -> tuple[Any, str | None]:
        """A job's stored payload and its batch id (for its page)."""

    def failed(self, where: Any, limit: int, after: str | None) -> list[Any] | None:
        """A page of failed jobs matching `where` (None: `after` names none)."""

    def failed_ids_matching(self, where: Any, before: dt.datetime) -> list[str]:
        """The failed jobs matching `where` that failed before `before` (bulk actions)."""

    def forget_failed(self, ids: Sequence[str]) -> list[str]:
        """Delete failed jobs; return the ids deleted."""

    def forget_failed_matching(self, where: Any, before: dt.datetime) -> int:
        """Delete the failed jobs matching `where`, failed before `before`; return how many."""

    def batches(self, before: str | None, limit: int) -> list[Any]:
        """A page of batches, newest first."""

    def batch(self, batch_id: str) -> Any | None:
        """One batch."""

    def worker_totals(self, retry_after: float) -> Any:
        """Live workers, their slots and jobs running."""

    def history(self, minutes: int, queue: str | None = None) -> list[Any]:
        """The per-minute counts of the last `minutes` (of `queue`)."""

    def recent(self, minutes: int) -> list[Any]:
        """Per queue and class, the totals of the last `minutes`."""


__all__ = [
    "AdminStore", "BatchStore", "Beat", "Claimer", "DashboardReads", "LimitStore",
    "MetricsWriter", "MinuteTotals", "OutageReport", "QueueStore", "ScheduleStore",
    "WakeupListener",
]
