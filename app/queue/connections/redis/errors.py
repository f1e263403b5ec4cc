"""Redis client errors become queue errors here, once, at the driver's boundary: an outage is
`DatabaseUnavailable` (the worker waits it out, as for PostgreSQL), any other refusal a
`QueueDatabaseError`. Each message is one line naming the server, never a command's
arguments (a payload may be secret)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import redis.exceptions as rx

from app.queue.errors import DatabaseTimeout, DatabaseUnavailable, QueueDatabaseError, QueueError


class RedisUrlInvalid(QueueError):
    """The Redis URL cannot be read (wrong scheme, bad port, bad database number)."""


class RedisWithoutLua(QueueDatabaseError):
    """The server refuses EVAL (renamed away, or an ACL denies it): every step of the Redis
    driver is a Lua script, so it cannot work there."""


class RedisUnsupported(QueueError):
    """A feature the Redis driver does not have yet (or cannot have: a database transaction)."""


@contextlib.contextmanager
def translated_errors(where: str) -> Iterator[None]:
    """Any redis-py error raised inside becomes the queue's own, raised from it. `where`:
    the server as the message names it (host:port)."""
    try:
        yield
    except (rx.RedisError, rx.RedisClusterException) as exc:
        raise redis_error(exc, where) from exc


def redis_error(exc: rx.RedisError | rx.RedisClusterException,
                where: str) -> QueueDatabaseError:
    """The queue error for one redis-py error (see the module's docstring). A cluster's
    errors are not RedisErrors in redis-py: no node reachable is an outage; any other (the
    server is no cluster, a command a cluster refuses) a refusal."""
    reason = _first_line(exc)
    if isinstance(exc, rx.RedisClusterUnreachableError):
        return DatabaseUnavailable(f"Redis Cluster at {where} is unreachable ({reason})")
    if isinstance(exc, rx.RedisClusterException):
        return QueueDatabaseError(f"Redis Cluster at {where} refused ({reason})")
    if isinstance(exc, rx.TimeoutError):
        return DatabaseTimeout(f"Redis at {where} did not answer in time ({reason})")
    if isinstance(exc, (rx.ConnectionError, rx.ClusterDownError, rx.BusyLoadingError)):
        return DatabaseUnavailable(f"Redis at {where} is unreachable ({reason})")
    if _refuses_lua(exc):
        return RedisWithoutLua(f"Redis at {where} refuses Lua scripts ({reason}); the Redis "
                               "driver runs every step as one: allow EVAL/EVALSHA/SCRIPT")
    return QueueDatabaseError(f"Redis at {where} refused a command ({reason})")


def _refuses_lua(exc: rx.RedisError) -> bool:
    text = str(exc).lower()
    return (isinstance(exc, (rx.NoPermissionError, rx.ResponseError))
            and any(word in text for word in ("evalsha", "'eval'", "script", "noperm"))
            and ("unknown command" in text or "no permissions" in text or "noperm" in text))


_PIPELINE_PREFIX = re.compile(r"^Command # \d+ \(.*\) of pipeline caused error: ", re.DOTALL)
"""redis-py's wording of a pipeline's error quotes the command's first arguments: dropped."""


def _first_line(exc: BaseException) -> str:
    text = _PIPELINE_PREFIX.sub("", str(exc).strip())
    lines = text.splitlines()
    return lines[0] if lines else type(exc).__name__
