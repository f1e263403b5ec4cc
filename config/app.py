"""Application keys (SPEC §10), read from the environment after `.env` is loaded."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from config import env
from config.schedule import module_name


def key(raw: str) -> str:
    """A Fernet key, with or without Laravel's `base64:` prefix."""
    try:
        decoded = base64.urlsafe_b64decode(raw.removeprefix("base64:").encode())
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != 32:
        raise ValueError("must be 32 bytes of URL-safe base64 (python artisan.py key:generate "
                         "makes one)")
    return raw


def key_list(raw: str) -> tuple[str, ...]:
    return tuple(key(part.strip()) for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class AppConfig:
    key: str | None
    previous_keys: tuple[str, ...]
    providers: str
    """The module whose boot() runs once per process (Laravel's AppServiceProvider)."""

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key that may decrypt, the one that encrypts first."""
        return ((self.key,) if self.key else ()) + self.previous_keys


def load() -> AppConfig:
    return AppConfig(
        key=env("APP_KEY", None, key, secret=True),
        previous_keys=env("APP_PREVIOUS_KEYS", (), key_list, secret=True),
        providers=env("APP_PROVIDERS", "app.providers", module_name),
    )
