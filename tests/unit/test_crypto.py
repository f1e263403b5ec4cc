"""Encryption keys: what config accepts, rotation, and the errors of a missing or wrong key."""

from __future__ import annotations

import pytest

import config.app
from app.queue.crypto import Encrypter, EncryptionError, generate_key
from config import ConfigError


def test_a_bad_key_is_a_config_error_naming_its_key(monkeypatch):
    monkeypatch.setattr(config, "_loaded", True)  # no .env
    monkeypatch.setenv("APP_KEY", "not-a-key")
    with pytest.raises(ConfigError, match="invalid value for APP_KEY"):
        config.app.load()
    good = generate_key()
    monkeypatch.setenv("APP_KEY", good)
    monkeypatch.setenv("APP_PREVIOUS_KEYS", "base64:short")
    with pytest.raises(ConfigError, match="invalid value for APP_PREVIOUS_KEYS"):
        config.app.load()
    old = generate_key()
    monkeypatch.setenv("APP_PREVIOUS_KEYS", f" {old} ,")
    assert config.app.load().keys == (good, old)


def test_rotation_decrypts_with_previous_keys_and_a_wrong_key_says_so():
    old, new = generate_key(), generate_key()
    token = Encrypter([old]).encrypt('{"card": "4111"}')
    assert "4111" not in token
    assert Encrypter([new, old]).decrypt(token) == '{"card": "4111"}'
    with pytest.raises(EncryptionError, match=r"cannot decrypt .* \(APP_KEY changed\?\)"):
        Encrypter([new]).decrypt(token)
    with pytest.raises(EncryptionError, match="APP_KEY is not set"):
        Encrypter([]).encrypt("x", what="SendInvoice")
