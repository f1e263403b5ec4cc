"""The workers' records on Redis: register, heartbeat, stop, the rescue of a silent
worker's jobs, queue:restart. The records live on the global {%} slot; what a worker holds
lives on each queue's slot, looked at queue by queue."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.queue.connections.redis.connection import RedisConnection, ms_of, time_of
from app.queue.connections.redis.errors import translated_errors
from app.queue.connections.redis.keys import GlobalKeys

RESCUED = "its worker stopped answering (no heartbeat for {:g} s); given back"


@dataclass(frozen=True, slots=True)
class RedisBeat:
    """What a heartbeat tells the worker back (the contract's Beat)."""

    was_presumed_dead: bool
    restart_at: dt.datetime | None
    cancelled: Sequence[str] = field(default_factory=list)


class WorkerRecords(RedisConnection):
    """The contract's worker methods (QueueStore's "workers" part)."""

    def register_worker(self, worker_id: str, name: str, host: str, pid: int,
                        queues: Sequence[str], concurrency: int) -> dt.datetime:
        with translated_errors(self.where):
            self._remember_queues(queues)
            started = self.scripts["worker_register"](
                [GlobalKeys.workers, GlobalKeys.worker(worker_id)],
                [worker_id, name, host, pid, json.dumps(list(queues)), concurrency])
        return time_of(started)

    def heartbeat(self, worker_id: str, running: int, processed: int,
                  failed: int) -> RedisBeat | None:
        with translated_errors(self.where):
            beat = self.scripts["worker_beat"](
                [GlobalKeys.workers, GlobalKeys.worker(worker_id), GlobalKeys.restart],
                [worker_id, running, processed, failed])
            if beat is None:
                return None
            was_dead, restart, queues = beat
            cancelled = self._cancelled_of(worker_id, json.loads(queues or "[]"))
        return RedisBeat(bool(was_dead), time_of(restart) if restart else None, cancelled)

    def _cancelled_of(self, worker_id: str, queues: Sequence[str]) -> list[str]:
        """The worker's reserved jobs a cancel marked, looked up queue by queue (each on its
        slot). Pipelined on one server; a cluster pipeline refuses SINTER, a command of two
        keys, however they hash, so there it is a round trip a queue."""
        pairs = [(keys.worker_jobs(worker_id), keys.cancelled)
                 for keys in map(self.keys, queues)]
        if self.cluster:
            found = [self.client.sinter(*pair) for pair in pairs]
        else:
            pipe = self.client.pipeline(transaction=False)
            for pair in pairs:
                pipe.sinter(*pair)
            found = pipe.execute()
        return sorted(job_id for ids in found for job_id in ids)

    def stop_worker(self, worker_id: str, processed: int, failed: int, reason: str) -> None:
        with translated_errors(self.where):
            self.scripts["worker_stop"]([GlobalKeys.workers, GlobalKeys.worker(worker_id)],
                                        [worker_id, processed, failed, reason])

    def rescue_jobs_of_dead_workers(self, retry_after: float) -> list[str]:
        """Which workers are silent is decided once on the global slot; then each queue
        gives back their jobs in a script of its own."""
        with translated_errors(self.where):
            dead, live = self.scripts["worker_dead"](
                [GlobalKeys.workers], [GlobalKeys.prefix, ms_of(retry_after)])
            error = RESCUED.format(retry_after)
            back: list[str] = []
            for queue in self.queues():
                keys = self.keys(queue)
                back += self.scripts["rescue"](
                    [keys.ready, keys.reserved],
                    [keys.prefix, ms_of(retry_after), error, len(dead), *dead, *live])
        return back

    def prune_stopped_workers(self) -> None:
        with translated_errors(self.where):
            self.scripts["worker_prune"]([GlobalKeys.workers], [GlobalKeys.prefix])

    def signal_restart(self) -> dt.datetime:
        now = self.now()
        with translated_errors(self.where):
            self.client.set(GlobalKeys.restart, round(now.timestamp() * 1000))
        return now
