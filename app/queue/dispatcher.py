"""Putting jobs on the queue: dispatch, dispatch_many, dispatch_sync."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy.engine import Connection

from app.queue import context, fakes, job_events, payload, unique
from app.queue.connections.records import NewJob
from app.queue.errors import MaxAttemptsExceeded, QueueError
from app.queue.ids import new_id, new_ids
from app.queue.job import Delay, Job, give_id
from app.queue.names import check_queue_name
from app.queue.runner import Outcome, call_failed_hook, run_attempt, tries_of
from app.queue.settings import MAX_DELAY, MAX_PRIORITY

if TYPE_CHECKING:
    from typing import TypeAlias

    from sqlalchemy.orm import Session

    from app.queue.connections.database.store import CallersConnection

    Transaction: TypeAlias = Connection | Session | psycopg.Connection[Any]
    """What `connection=` takes: the caller's transaction, as SQLAlchemy's Connection or
    Session, or a psycopg 3 connection (Django's `connection.connection`, or plain psycopg)."""


def dispatch(job: Job, *, queue: str | None = None, delay: Delay | None = None,
             priority: int | None = None, connection: Transaction | None = None
             ) -> str | None:
    """Enqueue `job`; return its id (a ULID), or None if it is a unique job (`unique_for`)
    whose lock another job holds: then nothing is enqueued.

    With `connection` (a SQLAlchemy Connection or Session, or a psycopg 3 connection such as
    Django's `connection.connection`) the row is written in the caller's transaction: it
    exists, and workers are woken, only if that transaction commits. (A psycopg connection in
    autocommit mode, as Django's is outside `transaction.atomic()`, commits it at once.)
    """
    ctx = context.current()
    row = new_row(job, queue, priority, ctx)
    seconds, run_at = delay_of(delay)
    lock = unique.lock_of(job)
    if (fake := fakes.active()) is not None:
        pushed = fakes.Pushed(row.id, job, row.queue, delay, row.priority, lock)
        give_id(job, fake.push(pushed))
        return job.job_id
    if ctx.settings.connection == "sync":
        # Checked like a queued job first, so code that works inline also works queued.
        give_id(job, row.id)
        dispatch_sync(job)
        return row.id
    if not ctx.store.insert_job(row, seconds, run_at, connection_of(connection), lock):
        return None
    give_id(job, row.id)
    job_events.queued([job], [row.id], lambda _job: row.queue, seconds)
    return row.id


def dispatch_many(jobs: Iterable[Job], *, queue: str | None = None,
                  connection: Transaction | None = None) -> list[str | None]:
    """Enqueue many jobs with one COPY in one transaction; return their ids in order.
    `queue`, as dispatch()'s: the queue of every job of the list (else each job's own).

    A list holding unique jobs goes in by one INSERT instead (COPY cannot skip a duplicate):
    a unique job whose lock is held, by a row already there or by a job earlier in the list,
    is not enqueued, and its place in the returned list is None.

    One bad argument enqueues nothing. With `connection` (the caller's transaction) every job
    is encoded before anything is written, so the error leaves that transaction as it was.
    Without, each job is encoded as its row is sent, while the server stores the rows before
    it; an error then aborts the COPY, and with it the transaction of our own.
    """
    ctx = context.current()
    jobs = list(jobs)
    if not jobs:
        return []
    callers = connection_of(connection)
    if queue is not None:
        _check_queue_option(queue, "dispatch_many()'s queue")
        check_queue_name(queue)
    ids = new_ids(len(jobs))
    if (fake := fakes.active()) is not None:
        # Every job is checked before any is kept, as a COPY keeps none of a failed batch.
        rows = list(new_rows(jobs, ids, ctx, queue))
        locks = [unique.lock_of(job) for job in jobs]
        for job, row, lock in zip(jobs, rows, locks, strict=True):
            give_id(job, fake.push(fakes.Pushed(row.id, job, row.queue, None, row.priority,
                                                  lock)))
        return [job.job_id for job in jobs]
    if unique.any_unique(jobs) and ctx.settings.connection != "sync":
        return _dispatch_many_unique(jobs, ids, ctx, callers, queue)
    if ctx.settings.connection == "sync" or callers is not None:
        rows = list(new_rows(jobs, ids, ctx, queue))
        if ctx.settings.connection == "sync":
            for job, row in zip(jobs, rows, strict=True):
                give_id(job, row.id)
                dispatch_sync(job)
            return list(ids)
        ctx.store.insert_jobs(rows, connection=callers)
        job_events.queued(jobs, ids, lambda job: _queue_of(job, ctx, queue))
    else:
        # Rows are made as the COPY takes them and not kept: 10,000 kept tuples cost more in
        # garbage collector passes than in making them.
        ctx.store.insert_jobs(new_rows(jobs, ids, ctx, queue))
        job_events.queued(jobs, ids, lambda job: _queue_of(job, ctx, queue))
    for job, id_ in zip(jobs, ids, strict=True):
        give_id(job, id_)
    return list(ids)


def _dispatch_many_unique(jobs: list[Job], ids: list[str], ctx: context.QueueContext,
                          callers: CallersConnection | None, queue: str | None
                          ) -> list[str | None]:
    rows = list(new_rows(jobs, ids, ctx, queue))
    locks = [unique.lock_of(job) for job in jobs]
    inserted = ctx.store.insert_jobs_unique(rows, locks, connection=callers)
    placed = [id_ if id_ in inserted else None for id_ in ids]
    for job, id_ in zip(jobs, placed, strict=True):
        give_id(job, id_)
    queued = [job for job in jobs if job.job_id is not None]
    job_events.queued(queued, [job.job_id for job in queued if job.job_id],
                      lambda job: _queue_of(job, ctx, queue))
    return placed


def dispatch_sync(job: Job) -> Any:
    """Run `job` now, in this process, with its whole lifecycle: tries, backoff, `failed()`.

    The last error is raised to the caller. Backoff waits are real sleeps of the computed
    delay. A plain `handle()` cannot be interrupted here, so `timeout` applies to `async def`
    handlers only.
    """
    ctx = context.current()
    defaults = ctx.defaults
    # The same TypeError as dispatch for arguments a worker could not get, or that clash with
    # Skiplock's own names. The class itself may live anywhere (a script's __main__ too): it
    # is never imported by path here, so QUEUE_JOB_PACKAGES, which says what a worker may
    # import, does not apply (dispatch() with QUEUE_CONNECTION=sync does check it, so that
    # code which works inline works queued).
    check_options(job)
    payload.job_data(job)
    give_id(job, job.job_id or new_id())
    job.attempts = 0
    while True:
        job.attempts += 1
        if job.attempts > tries_of(job, defaults):
            error: BaseException = MaxAttemptsExceeded(
                f"{type(job).__qualname__} was released after its last attempt "
                f"({job.attempts - 1} of {tries_of(job, defaults)})")
            call_failed_hook(job, error)
            raise error
        result = run_attempt(job, defaults)
        if result.outcome is Outcome.DONE:
            return None
        if result.outcome is Outcome.LIMITED:  # held back: this attempt does not count
            job.attempts -= 1
        if result.outcome in (Outcome.RETRY, Outcome.LIMITED):
            time.sleep(result.delay)
            continue
        assert result.error is not None
        call_failed_hook(job, result.error)
        raise result.error


# ---------------------------------------------------------------------------- helpers


def new_row(job: Job, queue: str | None, priority: int | None, ctx: context.QueueContext,
            id_: str | None = None) -> NewJob:
    queue_name, prio = _check_job(job, queue, priority, ctx)
    return NewJob(id_ or new_id(), queue_name, payload.encode(job), prio)


def new_rows(jobs: list[Job], ids: list[str], ctx: context.QueueContext,
             queue_for_all: str | None = None) -> Iterator[NewJob]:
    """new_row() of each job with its id, checked and encoded the same way, the class checks
    made once per class rather than once per job. With the plain-JSON encoding (payload.py)
    and the ids' shared heads (ids.py): 48,100 -> 27,400 instructions a job, making the job
    and its id included (callgrind, 10,000 against 5,000 jobs of {"i": n}, 2026-11-28).
    `queue_for_all`: dispatch_many()'s queue (checked by the caller), over each job's own."""
    checked: set[type] = set()
    default = ctx.settings.default_queue if queue_for_all is None else queue_for_all
    encode = payload.encode
    storing_options = payload.classes_storing_options
    for job, id_ in zip(jobs, ids, strict=True):
        cls = type(job)
        if cls not in checked:
            _check_class(job, ctx)
            checked.add(cls)
        if cls in storing_options:  # its jobs set options of their own (rare)
            check_options(job)
            text = encode(job)
        else:
            text = encode(job)
            if cls in storing_options:  # this job is its first to, as encode just found
                check_options(job)
        queue = job.queue if queue_for_all is None else None
        prio = job.priority
        if type(prio) is not int or not -MAX_PRIORITY - 1 <= prio <= MAX_PRIORITY:
            _check_priority(prio)
        yield NewJob(id_, check_queue_name(queue if queue is not None else default),
                     text, prio)


def _queue_of(job: Job, ctx: context.QueueContext, queue: str | None = None) -> str:
    if queue is not None:
        return queue
    return job.queue if job.queue is not None else ctx.settings.default_queue


def _check_job(job: Job, queue: str | None, priority: int | None,
               ctx: context.QueueContext) -> tuple[str, int]:
    _check_class(job, ctx)
    if not OPTIONS.isdisjoint(vars(job)):
        check_options(job)
    _check_queue_option(queue, "queue")
    name = check_queue_name(queue if queue is not None else _queue_of(job, ctx))
    prio = priority if priority is not None else job.priority
    _check_priority(prio)
    return name, prio


def _check_class(job: Job, ctx: context.QueueContext) -> None:
    if not isinstance(job, Job):
        raise TypeError(f"dispatch() takes a Job instance, not {type(job).__name__}")
    ctx.resolver.refuse_undispatchable(type(job))
    if type(job) not in _options_checked:
        check_options(type(job))
        _options_checked.add(type(job))


OPTIONS = payload.OPTION_NAMES
"""The options a class sets and an instance may set its own of (Job's ClassVars)."""
_options_checked: set[type] = set()
"""Classes whose own options were found well typed (an instance's are checked each time)."""


def check_options(job: Job | type[Job]) -> None:
    """`TypeError` naming the option for a `tries`, `backoff`, `timeout`, `priority` or
    `queue` of the wrong type, on the class or the instance: stored, such a job could only
    fail in the worker, far from the line that made it."""
    owner = job.__qualname__ if isinstance(job, type) else type(job).__qualname__
    _check_queue_option(job.queue, f"{owner}.queue")
    if job.tries is not None and not _is_int(job.tries):
        raise TypeError(f"{owner}.tries must be an int or None, not "
                        f"{type(job.tries).__name__} {job.tries!r}")
    if job.timeout is not None and not _is_number(job.timeout):
        raise TypeError(f"{owner}.timeout must be a number of seconds or None, not "
                        f"{type(job.timeout).__name__} {job.timeout!r}")
    _check_backoff(job.backoff, owner)
    if not _is_int(job.priority):
        raise TypeError(f"{owner}.priority must be an int, not "
                        f"{type(job.priority).__name__} {job.priority!r}")


def _check_backoff(backoff: object, owner: str) -> None:
    if backoff is None or _is_number(backoff):
        return
    if isinstance(backoff, list | tuple) and all(_is_number(step) for step in backoff):
        return
    raise TypeError(f"{owner}.backoff must be seconds, a list of seconds or None, not "
                    f"{type(backoff).__name__} {backoff!r}")


def _check_queue_option(queue: object, what: str) -> None:
    if queue is not None and not isinstance(queue, str):
        raise TypeError(f"{what} must be a str or None, not {type(queue).__name__}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _check_priority(prio: object) -> None:
    if isinstance(prio, bool) or not isinstance(prio, int):
        raise TypeError(f"priority must be an int, not {type(prio).__name__}")
    if not -MAX_PRIORITY - 1 <= prio <= MAX_PRIORITY:
        raise ValueError(f"priority {prio} is out of range (±2**31)")


def delay_of(delay: Delay | None) -> tuple[float, dt.datetime | None]:
    """(seconds from the database's now, or an absolute aware time to run at)."""
    if delay is None:
        return 0.0, None
    if isinstance(delay, dt.datetime):
        if delay.tzinfo is None or delay.utcoffset() is None:
            raise ValueError("delay as a datetime must be timezone-aware (the time to run at)")
        return 0.0, delay
    if isinstance(delay, dt.timedelta):
        seconds = delay.total_seconds()
    elif isinstance(delay, int | float) and not isinstance(delay, bool):
        seconds = float(delay)
    else:
        raise TypeError(f"delay must be seconds, a timedelta or an aware datetime, "
                        f"not {type(delay).__name__}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"delay must be a finite number of seconds, 0 or more, not {delay!r}")
    if seconds > MAX_DELAY:
        raise ValueError(f"delay {delay!r} is longer than the {MAX_DELAY:.0f} s (100 years) "
                         "a job can wait")
    return seconds, None


def refuse_sync_connection(what: str) -> None:
    """Chains and batches live in the database's rows; QUEUE_CONNECTION=sync has none."""
    if context.current().settings.connection == "sync":
        raise QueueError(f"{what} needs the database queue (QUEUE_CONNECTION=database): with "
                         "QUEUE_CONNECTION=sync there are no rows to carry it")


def connection_of(connection: Transaction | None) -> CallersConnection | None:
    # Not isinstance(connection, Session): that would import the ORM (6 MB) into every worker
    # and script that never uses one.
    if connection is None or isinstance(connection, Connection | psycopg.Connection):
        return connection
    if not callable(getattr(connection, "connection", None)):
        raise TypeError(f"connection= takes a SQLAlchemy Connection or Session or a psycopg 3 "
                        f"connection, not {type(connection).__name__}")
    return connection.connection()
