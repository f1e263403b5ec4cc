"""Application configuration: `.env` is loaded once, then each module reads the environment.

Environment variables win over `.env`. A bad value raises `ConfigError`, whose message names
the key; the console prints it as one line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from dotenv import load_dotenv

BASE_PATH = Path(__file__).resolve().parent.parent

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration key holds a value that cannot be used."""


_loaded = False


def load_env() -> None:
    """Load `BASE_PATH/.env` (once per process); variables already set are kept."""
    global _loaded
    if not _loaded:
        load_dotenv(BASE_PATH / ".env", override=False)
        _loaded = True


def env(key: str, default: T, parse: Callable[[str], T], secret: bool = False) -> T:
    """Read `key` from the environment, parsed by `parse`; unset or empty gives `default`.
    The error for a bad `secret` value gives its length, never the value (a mistyped key is
    still most of a key)."""
    load_env()
    raw = os.environ.get(key, "").strip()
    if raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        shown = f"{len(raw)} characters, not shown" if secret else repr(raw)
        raise ConfigError(f"invalid value for {key}: {shown} ({exc})") from None


def positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("must be a whole number of at least 1")
    return value


def non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be a number of seconds, 0 or more")
    return value


def boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def name_list(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not names:
        raise ValueError("must name at least one entry")
    return names
