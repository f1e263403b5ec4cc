"""JobStore: the statements of dispatch and the worker, one method per named statement in
queries.sql (the hot two go through libpq.py). Every call is translated (db/errors.py): what
fails raises a QueueDatabaseError."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.queue.connections.base import OutageReport
from app.queue.connections.database.dispatching import (
    INSERT_JOB,
    INSERT_UNIQUE_JOB,
    dispatch_connection,
)
from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.libpq import Claimer, libpq_conninfo
from app.queue.connections.database.listener import Listener
from app.queue.connections.database.metrics import MetricsStore
from app.queue.connections.database.sql import (
    ADMIN_QUERIES,
    INSERT_JOBS_UNIQUE_SQL,
    NOTIFY_QUEUES_SQL,
    QUERIES,
)
from app.queue.connections.records import (
    CancelOutcome,
    ClaimedJob,
    FailRecorded,
    NewJob,
    UniqueLock,
)
from app.queue.settings import MAX_DELAY
from app.queue.text import storable, storable_or_none

COPY_JOBS_SQL = "COPY jobs (id, queue, payload, priority) FROM STDIN"
COPY_MEMBERS_SQL = "COPY jobs (id, queue, payload, priority, batch_id, chain) FROM STDIN"
NULL = "\\N"
"""NULL in COPY's text format."""
COPY_CHUNK = 1000
"""Rows per write of a COPY: each write goes to the server at once, which stores them while
the next ones are made."""
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str) -> str:
    """`value` as a field of COPY's text format. Payloads are JSON, whose strings escape their
    control characters, so mostly only a backslash needs doubling, and usually none is there."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


class JobStore:
    """Reads and writes the queue tables. Every method is one statement unless it says so.

    `prepare`: whether statements may be prepared on the server (False behind PgBouncer in
    transaction mode, QUEUE_LISTEN=false). `lock_timeout`: seconds a dispatch of our own
    may wait for a lock on jobs (QUEUE_DISPATCH_LOCK_TIMEOUT; 0: as long as it takes)."""

    def __init__(self, engine: Engine, prepare: bool = True, lock_timeout: float = 0.0) -> None:
        self.engine = engine
        self.prepare = prepare
        self.lock_timeout = lock_timeout
        # Single statements need no BEGIN/COMMIT round trips around them.
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.dispatcher = dispatch_connection(engine, prepare, lock_timeout)

    @contextlib.contextmanager
    def _connect(self, connection: Connection | None = None) -> Iterator[Connection]:
        with translated_errors(self.engine.url):
            if connection is not None:
                yield connection
            else:
                with self.autocommit.connect() as conn:
                    yield conn

    def _run(self, name: str, params: dict[str, Any] | None = None,
             connection: Connection | None = None) -> list[sa.Row[Any]]:
        with self._connect(connection) as conn:
            result = conn.execute(QUERIES[name], params or {})
            return list(result) if result.returns_rows else []

    # ------------------------------------------------------------------------- enqueue

    def insert_job(self, job: NewJob, delay: float, run_at: dt.datetime | None,
                   connection: Connection | None = None, lock: UniqueLock | None = None
                   ) -> bool:
        """Insert one job; with `lock` (a unique job), False if a row holds its key already
        and nothing was inserted."""
        params = {"id": job.id, "queue": job.queue, "payload": job.payload,
                  "priority": job.priority, "delay": delay, "run_at": run_at}
        insert = INSERT_JOB
        if lock is not None:
            params.update(unique_key=lock.key, unique_for=lock.seconds,
                          unique_at_start=lock.at_start)
            insert = INSERT_UNIQUE_JOB
        if connection is not None:
            # The caller's: no lock timeout of ours.
            name = "insert_unique_job" if lock is not None else "insert_job"
            return bool(self._run(name, params, connection))
        # A dispatch of our own is one statement on the process's dispatch connection; or,
        # while another thread uses that, on a connection of dispatch's own pool.
        with translated_errors(self.engine.url, self.lock_timeout):
            return self.dispatcher.insert(params, insert)

    def insert_jobs_unique(self, jobs: Sequence[NewJob], locks: Sequence[UniqueLock | None],
                           connection: Connection | None = None) -> set[str]:
        """Insert a list holding unique jobs in one statement (COPY cannot skip duplicates);
        the ids of the rows inserted. A duplicate of a job earlier in the list or of a row
        already there is not inserted."""
        params = {"ids": [job.id for job in jobs], "queues": [job.queue for job in jobs],
                  "payloads": [job.payload for job in jobs],
                  "priorities": [job.priority for job in jobs],
                  "unique_keys": [lock and lock.key for lock in locks],
                  "unique_fors": [lock and lock.seconds for lock in locks],
                  "unique_at_starts": [lock is not None and lock.at_start for lock in locks]}
        if connection is not None:
            with translated_errors(self.engine.url):
                rows = list(connection.execute(QUERIES["insert_jobs_unique"], params))
                if rows:
                    connection.execute(QUERIES["notify_queues"],
                                       {"queues": sorted({row.queue for row in rows})})
            return {row.id for row in rows}
        with (translated_errors(self.engine.url, self.lock_timeout),
              self.dispatcher.transaction() as own):
            inserted = own.execute(INSERT_JOBS_UNIQUE_SQL, params).fetchall()
            if inserted:
                own.execute(NOTIFY_QUEUES_SQL, {"queues": sorted({q for _, q in inserted})})
        return {id_ for id_, _ in inserted}

    def insert_jobs(self, jobs: Iterable[NewJob], connection: Connection | None = None) -> None:
        """COPY the rows in (one statement, however many), then one NOTIFY per queue. `jobs`
        may be a generator: rows are sent as it yields them, so the server stores rows while
        the caller makes the next ones; if it raises, the COPY and its transaction fail."""
        if connection is not None:
            with translated_errors(self.engine.url):
                raw = connection.connection.driver_connection
                assert isinstance(raw, psycopg.Connection)
                if queues := self._copy(raw, jobs):
                    connection.execute(QUERIES["notify_queues"], {"queues": queues})
            return
        # On a connection of dispatch's own, whose session bounds the lock wait: a SET LOCAL
        # in a pooled one's transaction made a dispatch_many of 10 jobs ~0.3 ms slower.
        with (translated_errors(self.engine.url, self.lock_timeout),
              self.dispatcher.transaction() as own):
            if queues := self._copy(own, jobs):
                own.execute(NOTIFY_QUEUES_SQL, {"queues": queues})

    def insert_member(self, job: NewJob, batch_id: str | None, chain: str | None,
                      connection: Connection | None = None) -> None:
        """One job of a batch or the first of a chain (`chain`: the rest of it, as JSON)."""
        self._run("insert_member", {"id": job.id, "queue": job.queue, "payload": job.payload,
                                    "priority": job.priority, "batch_id": batch_id,
                                    "chain": chain}, connection)

    @contextlib.contextmanager
    def transaction(self, connection: Connection | None = None
                    ) -> Iterator[psycopg.Connection[Any]]:
        """The driver connection of the caller's transaction, or of one of dispatch's own
        (its lock wait bounded as dispatch_many's), for writes that must commit together."""
        if connection is not None:
            with translated_errors(self.engine.url):
                raw = connection.connection.driver_connection
                assert isinstance(raw, psycopg.Connection)
                yield raw
            return
        with (translated_errors(self.engine.url, self.lock_timeout),
              self.dispatcher.transaction() as own):
            yield own

    def copy_members(self, raw: psycopg.Connection[Any], batch_id: str,
                     jobs: Sequence[tuple[NewJob, str | None]]) -> None:
        """COPY a batch's jobs in (each with the rest of its chain, if it is one), then one
        NOTIFY per queue, in the transaction of `raw` (see transaction())."""
        batch = copy_text(batch_id)
        with raw.cursor() as cursor, cursor.copy(COPY_MEMBERS_SQL) as copy:
            for start in range(0, len(jobs), COPY_CHUNK):
                copy.write("".join(
                    f"{job.id}\t{copy_text(job.queue)}\t{copy_text(job.payload)}\t"
                    f"{job.priority:d}\t{batch}\t"
                    f"{NULL if chain is None else copy_text(chain)}\n"
                    for job, chain in jobs[start:start + COPY_CHUNK]))
        raw.execute(NOTIFY_QUEUES_SQL, {"queues": sorted({job.queue for job, _ in jobs})})

    def _copy(self, raw: psycopg.Connection[Any], jobs: Iterable[NewJob]) -> list[str]:
        """COPY text built here rather than by psycopg's write_row (C-accelerated), which
        was measured against it: a dispatch_many of 10,000 jobs took 8.2 us of client CPU a
        job with write_row against 7.5 us with this (medians of 15 alternated runs, 2026-11-28;
        the COPY alone: 11.4 against 9.6 ms). On a quiet machine the bulk figure is bound by
        that CPU (139,711 jobs/s is 7.2 us a job), so write_row would cost it ~10 %."""
        queues: dict[str, str] = {}  # name -> as COPY text
        lines: list[str] = []
        with raw.cursor() as cursor, cursor.copy(COPY_JOBS_SQL) as copy:
            for id_, name, payload, priority in jobs:
                queue = queues.get(name)
                if queue is None:
                    queue = queues[name] = copy_text(name)
                lines.append(f"{id_}\t{queue}\t{copy_text(payload)}\t{priority:d}\n")
                if len(lines) == COPY_CHUNK:
                    copy.write("".join(lines))
                    lines.clear()
            if lines:
                copy.write("".join(lines))
        return sorted(queues)

    # --------------------------------------------------------------------------- worker

    def listener(self, queues: Collection[str], wake: Callable[[], None],
                 outage: OutageReport,
                 on_cancel: Callable[[str], None] = lambda note: None) -> Listener:
        return Listener(libpq_conninfo(self.engine.url), queues, wake, outage, on_cancel)

    def metrics(self) -> MetricsStore:
        return MetricsStore(self.engine)

    def pending_counts(self, queues: Sequence[str]) -> dict[str, int]:
        """Read off queue_status (queue:status's own statement): asked only by a worker
        about to stop because its claim found nothing."""
        with translated_errors(self.engine.url), self.autocommit.connect() as conn:
            rows = conn.execute(ADMIN_QUERIES["queue_status"], {"queues": list(queues)})
            return {row.queue: row.pending for row in rows
                    if row.queue in queues and row.pending}

    def claimer(self, prepare: bool | None = None) -> Claimer:
        """A connection of its own for one worker's claims: the only claim there is (see
        Claimer, which also deletes the jobs the worker finished: where is a done job
        deleted? There, always, so that a member of a chain or batch is carried on)."""
        return Claimer(self.engine.url, self.prepare if prepare is None else prepare)

    def reserved_job(self, job_id: str, worker_id: str) -> ClaimedJob | None:
        rows = self._run("reserved_job", {"id": job_id, "worker": worker_id})
        if not rows:
            return None
        row = rows[0]
        return ClaimedJob(row.id, row.queue, row.payload, row.attempts, 0.0, row.batch_id,
                          row.chain_id)

    def release(self, worker_id: str, job_id: str, delay: float, error: str | None) -> bool:
        rows = self._run("release_job", {"worker": worker_id, "id": job_id,
                                         "delay": min(max(delay, 0.0), MAX_DELAY),
                                         "error": storable_or_none(error)})
        if rows and delay <= 0:
            self._run("notify_queues", {"queues": [rows[0].queue]})
        return bool(rows)

    def release_limited(self, worker_id: str, job_id: str, delay: float) -> bool:
        """Put back a job a middleware limit held back, its attempt not counted."""
        rows = self._run("release_limited", {"worker": worker_id, "id": job_id,
                                             "delay": min(max(delay, 0.0), MAX_DELAY)})
        if rows and rows[0].due_now:
            self._run("notify_queues", {"queues": [rows[0].queue]})
        return bool(rows)

    def fail(self, worker_id: str, job_id: str, exception: str,
             error: str | None = None) -> FailRecorded | None:
        """None if the job is no longer `worker_id`'s. `error`: the one-line summary a
        chain's or batch's catch job gets."""
        rows = self._run("fail_job", {"worker": worker_id, "id": job_id,
                                      "exception": storable(exception),
                                      "error": storable_or_none(error)})
        return FailRecorded(rows[0].finished_batch) if rows else None

    def cancel(self, job_id: str, exception: str) -> CancelOutcome:
        """Cancel one job (three statements in one transaction): a waiting one moves to
        failed_jobs with `exception`; a running one is marked, and its worker told."""
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            found = conn.execute(QUERIES["lock_job_to_cancel"], {"id": job_id}).first()
            if found is None:
                failed = conn.execute(QUERIES["is_failed_job"], {"id": job_id}).scalar_one()
                return CancelOutcome.FINISHED if failed else CancelOutcome.UNKNOWN
            if found.running:
                conn.execute(QUERIES["cancel_running_job"], {"id": job_id})
                return CancelOutcome.STOPPING
            conn.execute(QUERIES["cancel_waiting_job"],
                         {"id": job_id, "exception": exception, "error": exception})
            return CancelOutcome.REMOVED

    def append_failure_note(self, job_id: str, note: str) -> None:
        self._run("append_failure_note", {"id": job_id, "note": storable(note)})

    def set_progress(self, worker_id: str, job_id: str, percent: float,
                     message: str | None) -> None:
        self._run("set_progress", {"worker": worker_id, "id": job_id, "percent": percent,
                                   "message": message})

    def release_unstarted(self, worker_id: str, ids: Sequence[str]) -> None:
        self._run("release_unstarted", {"worker": worker_id, "ids": list(ids)})

    def give_back_unseen(self, worker_id: str, known: Sequence[str]) -> list[str]:
        rows = self._run("give_back_unseen", {"worker": worker_id, "known": list(known)})
        if rows:
            self._run("notify_queues", {"queues": sorted({row.queue for row in rows})})
        return [row.id for row in rows]

    def jobs_since_vacuum(self) -> tuple[int, bool]:
        """(rows inserted into jobs since its last VACUUM, whether this role may VACUUM it)."""
        row = self._run("jobs_since_vacuum")[0]
        return int(row.inserted or 0), bool(row.may_vacuum)

    def vacuum_jobs(self) -> None:
        self._run("vacuum_jobs")

    def rescue_jobs_of_dead_workers(self, retry_after: float) -> list[str]:
        rows = self._run("rescue_jobs_of_dead_workers", {"retry_after": retry_after})
        if rows:
            self._run("notify_queues", {"queues": sorted({row.queue for row in rows})})
        return [row.id for row in rows]

    # -------------------------------------------------------------------------- workers

    def prune_stopped_workers(self) -> None:
        self._run("prune_stopped_workers")

    def register_worker(self, worker_id: str, name: str, host: str, pid: int,
                        queues: Sequence[str], concurrency: int) -> dt.datetime:
        rows = self._run("register_worker", {"id": worker_id, "name": name, "host": host,
                                             "pid": pid, "queues": list(queues),
                                             "concurrency": concurrency})
        return rows[0].started_at

    def heartbeat(self, worker_id: str, running: int, processed: int,
                  failed: int) -> sa.Row[Any] | None:
        rows = self._run("heartbeat", {"id": worker_id, "running": running,
                                       "processed": processed, "failed": failed})
        return rows[0] if rows else None

    def stop_worker(self, worker_id: str, processed: int, failed: int, reason: str) -> None:
        self._run("stop_worker", {"id": worker_id, "processed": processed, "failed": failed,
                                  "reason": reason})

    # ---------------------------------------------------------------------- control

    def signal_restart(self) -> dt.datetime:
        return self._run("signal_restart")[0].signalled_at

    def pause(self, queue: str) -> bool:
        """False if it was paused already."""
        return bool(self._run("pause_queue", {"queue": queue}))

    def resume(self, queue: str) -> bool:
        return bool(self._run("resume_queue", {"queue": queue}))

    def notify(self, queues: Sequence[str]) -> None:
        self._run("notify_queues", {"queues": list(queues)})

    def paused_queues(self) -> list[str]:
        return [row.queue for row in self._run("paused_queues")]

    def now(self) -> dt.datetime:
        return self._run("now")[0][0]

    def abandon_worker(self, worker_id: str, done: Sequence[str], unstarted: Sequence[str],
                       processed: int, failed: int) -> int:
        """A worker quitting at once: its jobs given back, its row stopped (one statement)."""
        rows = self._run("abandon_worker", {"worker": worker_id, "done": list(done),
                                            "unstarted": list(unstarted),
                                            "processed": processed, "failed": failed})
        return int(rows[0].given_back)
