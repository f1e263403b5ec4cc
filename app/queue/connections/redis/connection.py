"""RedisConnection: what every part of the Redis driver shares — the client, the scripts,
the keys of each queue, the set of queues, and where a job is (an outcome names a job by id
only)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable

from redis.exceptions import NoScriptError

from app.queue.connections.redis.client import open_client, server_name
from app.queue.connections.redis.errors import translated_errors
from app.queue.connections.redis.keys import GlobalKeys, QueueKeys
from app.queue.connections.redis.scripts import LuaScripts
from app.queue.settings import MAX_DELAY


def ms_of(seconds: float) -> int:
    """Seconds as the scripts take them: whole ms, from 0 to MAX_DELAY."""
    return round(min(max(seconds, 0.0), MAX_DELAY) * 1000)


def time_of(ms: int | str) -> dt.datetime:
    """A script's ms of the server's clock as a time."""
    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC)


def is_noscript(exc: Exception) -> bool:
    """A pipeline's NOSCRIPT (redis-py words it "No matching script", raised as itself or
    wrapped in the pipeline's ResponseError)."""
    return isinstance(exc, NoScriptError) or "no matching script" in str(exc).lower()


class RedisConnection:
    """One Redis server or one Redis Cluster, as the driver's classes use it."""

    def __init__(self, url: str, cluster: bool = False) -> None:
        self.url = url
        self.cluster = cluster
        self.client = open_client(url, cluster)  # checks the URL first
        self.where = server_name(url)
        self.scripts = LuaScripts(self.client)
        self._keys: dict[str, QueueKeys] = {}
        self._known: set[str] = set()
        """Queues this process has added to the global set already."""
        self.queue_of: dict[str, str] = {}
        """Job id -> queue, for the jobs this process's claimers hold: an outcome names a job
        by id only, and this spares a search of every queue."""

    # ------------------------------------------------------------------------- plumbing

    def check(self) -> None:
        """Reach the server and run a script: an unreachable Redis or one without Lua is said
        here, in one line, rather than at the first claim."""
        with translated_errors(self.where):
            self.client.ping()
            self.client.eval("return 1", 0)

    def keys(self, queue: str) -> QueueKeys:
        """The keys of `queue` (made once per queue: a claim asks every turn)."""
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys(queue)
        return keys

    def _remember_queues(self, queues: Iterable[str]) -> None:
        new = set(queues) - self._known
        if new:
            self.client.sadd(GlobalKeys.queues, *new)
            self._known |= new

    def queues(self) -> list[str]:
        """Every queue pushed to or worked, sorted."""
        with translated_errors(self.where):
            return sorted(self.client.smembers(GlobalKeys.queues))

    def find_queue(self, job_id: str) -> str | None:
        """The queue holding `job_id` (waiting, reserved or failed), searched queue by queue."""
        queue = self.queue_of.get(job_id)
        if queue is not None:
            return queue
        with translated_errors(self.where):
            for name in self.queues():
                keys = self.keys(name)
                if (self.client.exists(keys.job(job_id))
                        or self.client.hexists(keys.failed, job_id)):
                    return name
        return None

    def by_queue(self, ids: Iterable[str]) -> dict[str, list[str]]:
        """`ids` grouped by their queue (those found in none are left out)."""
        grouped: dict[str, list[str]] = {}
        for job_id in ids:
            queue = self.find_queue(job_id)
            if queue is not None:
                grouped.setdefault(queue, []).append(job_id)
        return grouped

    def now(self) -> dt.datetime:
        with translated_errors(self.where):
            seconds, micros = self.client.time()
        return dt.datetime.fromtimestamp(seconds + micros / 1e6, dt.UTC)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
