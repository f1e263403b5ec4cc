"""RedisClaimer: one worker's claims on Redis."""

from __future__ import annotations

from collections.abc import Sequence

from app.queue.connections.records import ClaimedJob
from app.queue.connections.redis.connection import RedisConnection
from app.queue.connections.redis.errors import translated_errors


class RedisClaimer:
    """One worker's claims: a claim script per queue in the order given (every job of the
    first before any of the second), each acknowledging the jobs done on its queue."""

    def __init__(self, store: RedisConnection) -> None:
        self.store = store
        self.finished_batches: list[str] = []

    def claim(self, worker_id: str, queues: Sequence[str], limit: int,
              acks: Sequence[str] = (), carry_on: bool = False) -> list[ClaimedJob]:
        acks_of = self.store.by_queue(acks) if acks else {}
        claimed: list[ClaimedJob] = []
        with translated_errors(self.store.where):
            for queue in queues:
                room = limit - len(claimed)
                if room > 0 or queue in acks_of:
                    claimed += self._claim_on(worker_id, queue, max(room, 0),
                                              acks_of.pop(queue, ()))
            for queue, ids in acks_of.items():
                self._claim_on(worker_id, queue, 0, ids)
        return claimed

    def _claim_on(self, worker_id: str, queue: str, limit: int,
                  acks: Sequence[str]) -> list[ClaimedJob]:
        store = self.store
        keys = store.keys(queue)
        out = store.scripts["claim"]([keys.ready, keys.delayed, keys.reserved, keys.paused],
                                     [keys.prefix, worker_id, limit, *acks])
        where = store.queue_of
        for job_id in acks:
            where.pop(job_id, None)
        jobs = []
        for i in range(1, len(out), 5):
            job_id = out[i]
            where[job_id] = queue
            jobs.append(ClaimedJob(job_id, queue, out[i + 1], int(out[i + 2]),
                                   int(out[i + 3]) / 1000, None, None, out[i + 4] == 1))
        return jobs

    def acknowledge(self, worker_id: str, acks: Sequence[str], carry_on: bool = False) -> None:
        if acks:
            self.claim(worker_id, (), 0, acks)

    def close(self) -> None:
        """The claimer shares the store's client: nothing of its own to let go."""
