"""The Redis driver: the queue store on a Redis server or a Redis Cluster (SPEC §15).

Not wired into dispatch, the worker or the CLI yet: `RedisStore(url)` is the contract's
QueueStore, tested by tests/integration/test_redis_store.py against real servers."""

from __future__ import annotations

from app.queue.connections.redis.errors import RedisUnsupported, RedisUrlInvalid, RedisWithoutLua
from app.queue.connections.redis.keys import GlobalKeys, QueueKeys, escape_queue
from app.queue.connections.redis.scripts import LuaScripts
from app.queue.connections.redis.store import RedisClaimer, RedisStore

__all__ = ["GlobalKeys", "LuaScripts", "QueueKeys", "RedisClaimer", "RedisStore",
           "RedisUnsupported", "RedisUrlInvalid", "RedisWithoutLua", "escape_queue"]
