"""The long-wait notification keys (SPEC §17): defaults, parsing, one-line errors naming the
key (a URL that may hold a credential is never repeated). Pure: no database."""

from __future__ import annotations

import pytest

import config
import config.queue
from app.queue.observe.notify import MailSettings, NotifySettings
from config import ConfigError
from tests.support import ROOT

KEYS = ("QUEUE_WAIT_THRESHOLDS", "QUEUE_NOTIFY_WEBHOOK", "QUEUE_NOTIFY_COOLDOWN",
        "QUEUE_NOTIFY_CHECK_EVERY", "MAIL_URL", "MAIL_TO", "MAIL_FROM")


@pytest.fixture(autouse=True)
def bare_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in KEYS:
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    monkeypatch.setattr(config, "_loaded", True)


def test_nothing_is_watched_by_default() -> None:
    assert config.queue.notify_settings() == NotifySettings({}, None, None, 300.0, 60.0)


def test_every_notification_key_is_read_and_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "QUEUE_WAIT_THRESHOLDS": '{"default": 60, "emails": 2.5}',
        "QUEUE_NOTIFY_WEBHOOK": "https://hooks.example.com/services/T0/B0/x",
        "QUEUE_NOTIFY_COOLDOWN": "0", "QUEUE_NOTIFY_CHECK_EVERY": "15",
        "MAIL_URL": "smtps://robot:s3cret@mail.example.com", "MAIL_TO": "a@example.com, b@x.io",
        "MAIL_FROM": "queue@example.com",
    }.items():
        monkeypatch.setenv(key, value)
    settings = config.queue.notify_settings()
    assert settings == NotifySettings(
        {"default": 60.0, "emails": 2.5}, "https://hooks.example.com/services/T0/B0/x",
        MailSettings("mail.example.com", 465, ("a@example.com", "b@x.io"), "queue@example.com",
                     tls=True, username="robot", password="s3cret"), 0.0, 15.0)
    assert "s3cret" not in repr(settings) and "T0/B0" not in repr(settings)


def test_a_plain_smtp_url_defaults_to_port_25_and_a_sender_of_this_host(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_URL", "smtp://127.0.0.1")
    monkeypatch.setenv("MAIL_TO", "ops@example.com")
    mail = config.queue.notify_settings().mail
    assert mail is not None and (mail.host, mail.port, mail.tls) == ("127.0.0.1", 25, False)
    assert mail.sender.startswith("skiplock@")


@pytest.mark.parametrize(("key", "value", "said"), [
    ("QUEUE_WAIT_THRESHOLDS", "default=60", "not JSON: Expecting value at character 0"),
    ("QUEUE_WAIT_THRESHOLDS", "[60]", "must be a JSON object: queue -> seconds"),
    ("QUEUE_WAIT_THRESHOLDS", '{"default": 0}', "the seconds of queue 'default' must be a "
                                               "number above 0"),
    ("QUEUE_WAIT_THRESHOLDS", '{"default": true}', "must be a number above 0"),
    ("QUEUE_WAIT_THRESHOLDS", '{"default": Infinity}', "must be a number above 0"),
    ("QUEUE_WAIT_THRESHOLDS", '{"a,b": 5}', "comma"),
    ("QUEUE_NOTIFY_COOLDOWN", "soon", "could not convert"),
    ("QUEUE_NOTIFY_CHECK_EVERY", "0", "must be a number of seconds above 0"),
    ("MAIL_TO", "ops", "'ops' is not a mail address"),
])
def test_a_bad_value_is_one_line_naming_the_key(monkeypatch: pytest.MonkeyPatch, key: str,
                                                value: str, said: str) -> None:
    monkeypatch.setenv(key, value)
    if key == "MAIL_TO":
        monkeypatch.setenv("MAIL_URL", "smtp://127.0.0.1:25")
    with pytest.raises(ConfigError) as raised:
        config.queue.notify_settings()
    message = str(raised.value)
    assert message.startswith(f"invalid value for {key}: ") and said in message, message
    assert "\n" not in message


@pytest.mark.parametrize(("key", "value"), [
    ("QUEUE_NOTIFY_WEBHOOK", "ftp://hooks.example.com/secret-token"),
    ("QUEUE_NOTIFY_WEBHOOK", "hooks.example.com/secret-token"),
    ("MAIL_URL", "http://robot:secret-token@mail.example.com"),
    ("MAIL_URL", "smtp://robot:secret-token@mail.example.com:99999"),
])
def test_a_bad_url_is_named_by_its_key_and_never_shown(monkeypatch: pytest.MonkeyPatch,
                                                       key: str, value: str) -> None:
    monkeypatch.setenv(key, value)
    monkeypatch.setenv("MAIL_TO", "ops@example.com")
    with pytest.raises(ConfigError, match=f"^invalid value for {key}: {len(value)} characters, "
                                          "not shown") as raised:
        config.queue.notify_settings()
    assert "secret-token" not in str(raised.value)


def test_mail_url_without_mail_to_names_mail_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_URL", "smtp://127.0.0.1:25")
    with pytest.raises(ConfigError, match=r"^MAIL_TO must name at least one address"):
        config.queue.notify_settings()


def test_env_example_documents_every_notification_key() -> None:
    example = (ROOT / ".env.example").read_text()
    assert [key for key in KEYS if key not in example] == []
