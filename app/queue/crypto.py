"""Encrypted job arguments (SPEC §10): authenticated encryption with `APP_KEY`.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) refuses any token that was altered
or made with another key; MultiFernet encrypts with the first key and decrypts with any, which
is how `APP_PREVIOUS_KEYS` keeps old jobs readable while keys rotate.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.queue.errors import QueueError

KEY_PREFIX = "base64:"
"""As Laravel writes APP_KEY; a key without it is read the same (config/app.py checks keys)."""


class EncryptionError(QueueError):
    """No key to encrypt with, or a payload that no configured key decrypts."""


def generate_key() -> str:
    """A new APP_KEY value."""
    return KEY_PREFIX + Fernet.generate_key().decode()


class Encrypter:
    """Encrypts with the first key; decrypts with any of them (newest first)."""

    def __init__(self, keys: Sequence[str]) -> None:
        fernets = [Fernet(key.removeprefix(KEY_PREFIX)) for key in keys]
        self._fernet = MultiFernet(fernets) if fernets else None

    @property
    def has_key(self) -> bool:
        return self._fernet is not None

    def encrypt(self, text: str, what: str = "the job") -> str:
        if self._fernet is None:
            raise EncryptionError(f"{what} is encrypted (encrypted = True) but APP_KEY is not "
                                  "set: run python artisan.py key:generate")
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str, what: str = "the job") -> str:
        if self._fernet is None:
            raise EncryptionError(f"cannot decrypt {what}: APP_KEY is not set")
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, UnicodeError):
            raise EncryptionError(f"cannot decrypt {what} with APP_KEY or APP_PREVIOUS_KEYS "
                                  "(APP_KEY changed?)") from None
