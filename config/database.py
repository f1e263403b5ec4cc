"""Where the queue's tables live: `DATABASE_URL`, or the embedded server when it is unset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config import BASE_PATH, env


@dataclass(frozen=True)
class DatabaseConfig:
    url: str | None
    """SQLAlchemy URL with the psycopg driver, or None for the embedded server."""
    embedded_path: Path
    """Data directory of the embedded server."""


def normalise_url(raw: str) -> str:
    """Accept `postgresql://`, `postgres://` and `postgresql+psycopg://`; use psycopg 3."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    raise ValueError("must start with postgresql://")


def load() -> DatabaseConfig:
    return DatabaseConfig(
        url=env("DATABASE_URL", None, normalise_url),
        embedded_path=BASE_PATH / "storage" / "database")
