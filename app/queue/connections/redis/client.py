"""Opening a Redis (or a Redis Cluster) from a URL, with the bad inputs said in one line."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis
from redis.cluster import RedisCluster

from app.queue.connections.redis.errors import RedisUrlInvalid, translated_errors

SCHEMES = ("redis", "rediss", "unix")
CONNECT_TIMEOUT_S = 5.0


def server_name(url: str) -> str:
    """host:port as messages name the server (never the password)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"


def open_client(url: str, cluster: bool = False) -> Any:
    """A client for `url` (nothing is sent yet). `cluster`: the URL names one node of a
    Redis Cluster, and the client finds the rest."""
    _check_url(url)
    options: dict[str, Any] = {"decode_responses": True,
                               "socket_connect_timeout": CONNECT_TIMEOUT_S,
                               "health_check_interval": 30}
    try:
        if cluster:
            with translated_errors(server_name(url)):
                return RedisCluster.from_url(url, **options)
        return redis.Redis.from_url(url, **options)
    except ValueError as exc:
        raise RedisUrlInvalid(f"Redis URL {_shown(url)} cannot be read ({exc})") from exc


def _check_url(url: str) -> None:
    if not isinstance(url, str) or "://" not in url:
        raise RedisUrlInvalid(f"Redis URL {_shown(url)} cannot be read: expected "
                              "redis://host:port/db")
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise RedisUrlInvalid(f"Redis URL {_shown(url)} has the scheme {parts.scheme!r}; "
                              f"expected one of {', '.join(SCHEMES)}")
    try:
        parts.port  # noqa: B018 - reading it checks it
    except ValueError as exc:
        raise RedisUrlInvalid(f"Redis URL {_shown(url)} has a bad port ({exc})") from exc
    database = parts.path.strip("/")
    if parts.scheme != "unix" and database and not database.isdigit():
        # redis-py would quietly use database 0 instead.
        raise RedisUrlInvalid(f"Redis URL {_shown(url)} names the database {database!r}; "
                              "expected a number (redis://host:port/0)")


def _shown(url: object) -> str:
    """The URL without its password."""
    if not isinstance(url, str):
        return repr(url)
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return repr(url)
