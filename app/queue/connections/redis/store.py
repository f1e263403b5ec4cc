"""RedisStore: the queue-store contract (app/queue/connections/base.py) on Redis, for
dispatch and the worker: pushes, outcomes and queues here, the workers' records in
workers.py, what every part shares in connection.py, the claim in claimer.py. Every
atomic step is one Lua script (scripts/, read by LuaScripts); the keys are laid out in
keys.py. What spans queues (a claim over several, the workers,
a cancel by id) is driven from here one queue at a time, so a Redis Cluster runs each script
on the one slot of its queue.

Failed jobs: a failure is recorded atomically with the job's removal, in the queue's own
`failed` hash (a script cannot write PostgreSQL). That hash is the outbox of the failed
record, whose home is the database's failed_jobs (as Laravel keeps failed_jobs in the
database whatever the queue driver): the admin commands and the dashboard read failed_jobs,
the embedded PostgreSQL default serves a Redis-only deployment, and a failure is kept on
disk however Redis is persisted. Moving the outbox there is the next step (docs/incoming).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from redis.exceptions import NoScriptError

from app.queue.connections.base import OutageReport
from app.queue.connections.records import (
    CancelOutcome,
    ClaimedJob,
    FailRecorded,
    NewJob,
    UniqueLock,
)
from app.queue.connections.redis.claimer import RedisClaimer
from app.queue.connections.redis.connection import is_noscript, ms_of
from app.queue.connections.redis.errors import RedisUnsupported, translated_errors
from app.queue.connections.redis.keys import GlobalKeys, QueueKeys
from app.queue.connections.redis.listener import RedisListener
from app.queue.connections.redis.workers import RedisBeat, WorkerRecords

PUSH_CHUNK = 500
"""Jobs per push script in a bulk push: one script blocks the server while it runs, so a
dispatch_many of 100,000 is 200 short scripts, all sent in one pipeline."""
INTERRUPTED = "its worker was interrupted (Ctrl-C twice); given back"
NO_TRANSACTION = ("connection= (a database transaction) cannot hold a push to Redis: a "
                  "Redis connection's jobs exist as soon as they are pushed")

__all__ = ["DiscardedMetrics", "RedisBeat", "RedisClaimer", "RedisStore"]


class DiscardedMetrics:
    """The per-minute counts are not kept on Redis yet (a later step): added and forgotten."""

    def add(self, counts: Any) -> None:
        """Nothing is kept."""

    def prune(self, days: int) -> None:
        """Nothing to forget."""


class RedisStore(WorkerRecords):
    """Jobs, workers and queues on one Redis server or one Redis Cluster."""

    # ----------------------------------------------------------------------------- push

    @staticmethod
    def _push_args(job: NewJob, delay: float, run_at: dt.datetime | None,
                   lock: UniqueLock | None) -> list[Any]:
        at = "" if run_at is None else str(max(round(run_at.timestamp() * 1000), 0))
        if lock is None:
            return [job.id, job.payload, job.priority, ms_of(delay) if at == "" else "", at,
                    "", 0, "0"]
        return [job.id, job.payload, job.priority, ms_of(delay) if at == "" else "", at,
                lock.key, ms_of(lock.seconds), "1" if lock.at_start else "0"]

    def insert_job(self, job: NewJob, delay: float, run_at: dt.datetime | None,
                   connection: Any = None, lock: UniqueLock | None = None) -> bool:
        self._refuse_transaction(connection)
        keys = self.keys(job.queue)
        with translated_errors(self.where):
            self._remember_queues((job.queue,))
            pushed = self.scripts["push"](
                [keys.ready, keys.delayed],
                [keys.prefix, "full", *self._push_args(job, delay, run_at, lock)])
        return bool(pushed)

    def insert_jobs(self, jobs: Iterable[NewJob], connection: Any = None) -> None:
        self._refuse_transaction(connection)
        by_queue: dict[str, list[Any]] = {}
        for job in jobs:
            args = by_queue.get(job.queue)
            if args is None:
                args = by_queue[job.queue] = []
            args += job[:1] + job[2:]  # id, payload, priority: push.lua's 'plain' form
        self._push_pipelined(by_queue, "plain")

    def insert_jobs_unique(self, jobs: Sequence[NewJob], locks: Sequence[UniqueLock | None],
                           connection: Any = None) -> set[str]:
        self._refuse_transaction(connection)
        by_queue: dict[str, list[Any]] = {}
        for job, lock in zip(jobs, locks, strict=True):
            by_queue.setdefault(job.queue, []).extend(self._push_args(job, 0.0, None, lock))
        return self._push_pipelined(by_queue, "full")

    def _push_pipelined(self, by_queue: dict[str, list[Any]], form: str) -> set[str]:
        """One push script per queue and chunk, every one in a single pipeline. `form`:
        push.lua's, 'plain' (three values a job) or 'full' (eight)."""
        if not by_queue:
            return set()
        step = PUSH_CHUNK * (3 if form == "plain" else 8)
        chunks = [(self.keys(queue), [form, *args[start:start + step]])
                  for queue, args in by_queue.items()
                  for start in range(0, len(args), step)]
        with translated_errors(self.where):
            self._remember_queues(by_queue)
            pushed, forgotten = self._send_pushes(chunks)
            if forgotten:
                # A pipeline does not load a script itself: load them on every master, then
                # send again only the chunks refused (the others are in: no job twice).
                self.scripts.load_everywhere()
                again, still = self._send_pushes(forgotten)
                if still:
                    raise NoScriptError("the push script could not be loaded")
                pushed |= again
        return pushed

    def _send_pushes(self, chunks: list[tuple[QueueKeys, list[Any]]]
                     ) -> tuple[set[str], list[tuple[QueueKeys, list[Any]]]]:
        """The ids pushed, and the chunks a server refused for not knowing the script."""
        pipe = self.client.pipeline(transaction=False)
        # EVALSHA itself: through the Script, redis-py's plain pipeline would first ask
        # SCRIPT EXISTS, a round trip more on every bulk push.
        sha = self.scripts["push"].sha
        for keys, args in chunks:
            pipe.evalsha(sha, 2, keys.ready, keys.delayed, keys.prefix, *args)
        pushed: set[str] = set()
        forgotten = []
        for chunk, result in zip(chunks, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(result, Exception):
                if not is_noscript(result):
                    raise result
                forgotten.append(chunk)
            else:
                pushed.update(result)
        return pushed, forgotten

    def insert_member(self, job: NewJob, batch_id: str | None, chain: str | None,
                      connection: Any = None) -> None:
        raise RedisUnsupported("chains and batches are not on the Redis driver yet; "
                               "dispatch them to a database connection")

    def transaction(self, connection: Any = None) -> contextlib.AbstractContextManager[Any]:
        raise RedisUnsupported("batches are not on the Redis driver yet; dispatch them to a "
                               "database connection")

    def copy_members(self, raw: Any, batch_id: str,
                     jobs: Sequence[tuple[NewJob, str | None]]) -> None:
        raise RedisUnsupported("batches are not on the Redis driver yet")

    @staticmethod
    def _refuse_transaction(connection: Any) -> None:
        if connection is not None:
            raise RedisUnsupported(NO_TRANSACTION)

    def notify(self, queues: Sequence[str]) -> None:
        with translated_errors(self.where):
            for queue in queues:
                self.client.spublish(self.keys(queue).wake_channel, "1")

    # ----------------------------------------------------------------- the worker's jobs

    def claimer(self, prepare: bool | None = None) -> RedisClaimer:
        """`prepare` is PostgreSQL's (prepared statements); scripts are always loaded once."""
        return RedisClaimer(self)

    def listener(self, queues: Collection[str], wake: Callable[[], None],
                 outage: OutageReport,
                 on_cancel: Callable[[str], None] = lambda note: None) -> RedisListener:
        return RedisListener(self.url, self.cluster,
                             [self.keys(q) for q in queues], wake, outage, on_cancel)

    def reserved_job(self, job_id: str, worker_id: str) -> ClaimedJob | None:
        queue = self.find_queue(job_id)
        if queue is None:
            return None
        with translated_errors(self.where):
            fields = self.client.hmget(self.keys(queue).job(job_id), "p", "a", "wb")
        if fields[2] != worker_id or fields[0] is None:
            return None
        self.queue_of[job_id] = queue
        return ClaimedJob(job_id, queue, fields[0], int(fields[1] or 0))

    def _release(self, worker_id: str, job_id: str, delay: float, uncount: bool,
                 error: str | None) -> int | None:
        queue = self.find_queue(job_id)
        if queue is None:
            return None
        keys = self.keys(queue)
        with translated_errors(self.where):
            due = self.scripts["release"](
                [keys.ready, keys.delayed, keys.reserved],
                [keys.prefix, worker_id, job_id, ms_of(delay), "1" if uncount else "0",
                 "0" if error is None else "1", error or ""])
        if due is not None:
            self.queue_of.pop(job_id, None)
        return due

    def release(self, worker_id: str, job_id: str, delay: float, error: str | None) -> bool:
        return self._release(worker_id, job_id, delay, False, error) is not None

    def release_limited(self, worker_id: str, job_id: str, delay: float) -> bool:
        return self._release(worker_id, job_id, delay, True, None) is not None

    def fail(self, worker_id: str, job_id: str, exception: str,
             error: str | None = None) -> FailRecorded | None:
        queue = self.find_queue(job_id)
        if queue is None:
            return None
        keys = self.keys(queue)
        with translated_errors(self.where):
            done = self.scripts["fail"]([keys.reserved],
                                        [keys.prefix, worker_id, job_id, queue, exception])
        if done is None:
            return None
        self.queue_of.pop(job_id, None)
        return FailRecorded(None)

    def _give_back(self, worker_id: str, queue: str, ids: Sequence[str], uncount: bool,
                   error: str = "") -> list[str]:
        keys = self.keys(queue)
        with translated_errors(self.where):
            back: list[str] = self.scripts["give_back"](
                [keys.ready, keys.reserved],
                [keys.prefix, worker_id, "1" if uncount else "0", error, *ids])
        for job_id in back:
            self.queue_of.pop(job_id, None)
        return back

    def release_unstarted(self, worker_id: str, ids: Sequence[str]) -> None:
        for queue, some in self.by_queue(ids).items():
            self._give_back(worker_id, queue, some, uncount=True)

    def _held(self, worker_id: str) -> dict[str, list[str]]:
        """queue -> the jobs `worker_id` holds there (read queue by queue)."""
        held: dict[str, list[str]] = {}
        with translated_errors(self.where):
            for queue in self.queues():
                ids = self.client.smembers(self.keys(queue).worker_jobs(worker_id))
                if ids:
                    held[queue] = sorted(ids)
        return held

    def give_back_unseen(self, worker_id: str, known: Sequence[str]) -> list[str]:
        keep = set(known)
        back: list[str] = []
        for queue, ids in self._held(worker_id).items():
            unseen = [job_id for job_id in ids if job_id not in keep]
            if unseen:
                back += self._give_back(worker_id, queue, unseen, uncount=True)
        return back

    def abandon_worker(self, worker_id: str, done: Sequence[str], unstarted: Sequence[str],
                       processed: int, failed: int) -> int:
        self.claimer().acknowledge(worker_id, done)
        fresh = set(unstarted)
        given = 0
        for queue, ids in self._held(worker_id).items():
            given += len(self._give_back(worker_id, queue,
                                         [i for i in ids if i in fresh], uncount=True))
            given += len(self._give_back(worker_id, queue,
                                         [i for i in ids if i not in fresh], uncount=False,
                                         error=INTERRUPTED))
        self.stop_worker(worker_id, processed, failed, "interrupted")
        return given

    def set_progress(self, worker_id: str, job_id: str, percent: float,
                     message: str | None) -> None:
        queue = self.find_queue(job_id)
        if queue is None:
            return
        with translated_errors(self.where):
            self.scripts["progress"]([self.keys(queue).job(job_id)],
                                     [worker_id, percent, "0" if message is None else "1",
                                      message or ""])

    def cancel(self, job_id: str, exception: str) -> CancelOutcome:
        known = self.queue_of.get(job_id)
        queues = [known] if known is not None else self.queues()
        with translated_errors(self.where):
            for queue in queues:
                keys = self.keys(queue)
                found = self.scripts["cancel"]([keys.ready, keys.delayed],
                                               [keys.prefix, job_id, queue, exception])
                if found is not None:
                    return CancelOutcome(found)
        return CancelOutcome.UNKNOWN

    def append_failure_note(self, job_id: str, note: str) -> None:
        queue = self.find_queue(job_id)
        if queue is None:
            return
        keys = self.keys(queue)
        with translated_errors(self.where):
            # One writer: the failed job's worker, right after it failed it.
            raw = self.client.hget(keys.failed, job_id)
            if raw is not None:
                record = json.loads(raw)
                record["exception"] += note
                self.client.hset(keys.failed, job_id, json.dumps(record))

    def failed_record(self, queue: str, job_id: str) -> dict[str, Any] | None:
        """A failed job's record as it waits in its queue's outbox."""
        with translated_errors(self.where):
            raw = self.client.hget(self.keys(queue).failed, job_id)
        return None if raw is None else json.loads(raw)

    # --------------------------------------------------------------------------- queues

    def pause(self, queue: str) -> bool:
        """The queue's own key is what its claims obey; the global set lists it."""
        with translated_errors(self.where):
            self._remember_queues((queue,))
            was_new = bool(self.client.set(self.keys(queue).paused, "1", nx=True))
            self.client.sadd(GlobalKeys.paused, queue)
        return was_new

    def resume(self, queue: str) -> bool:
        with translated_errors(self.where):
            was_paused = bool(self.client.delete(self.keys(queue).paused))
            self.client.srem(GlobalKeys.paused, queue)
        if was_paused:
            self.notify([queue])
        return was_paused

    def paused_queues(self) -> list[str]:
        with translated_errors(self.where):
            return sorted(self.client.smembers(GlobalKeys.paused))

    def pending_counts(self, queues: Sequence[str]) -> dict[str, int]:
        """Ready jobs plus delayed ones already due (the next claim moves them)."""
        now_ms = round(self.now().timestamp() * 1000)
        counts: dict[str, int] = {}
        with translated_errors(self.where):
            for queue in queues:
                keys = self.keys(queue)
                n = self.client.zcard(keys.ready) + self.client.zcount(keys.delayed, 0, now_ms)
                if n:
                    counts[queue] = n
        return counts

    # --------------------------------------------------------------------------- upkeep

    def jobs_since_vacuum(self) -> tuple[int, bool]:
        """Redis frees a deleted job's memory at once: nothing to clean up after."""
        return 0, False

    def vacuum_jobs(self) -> None:
        """Nothing to clean up (see jobs_since_vacuum)."""

    def metrics(self) -> DiscardedMetrics:
        return DiscardedMetrics()
