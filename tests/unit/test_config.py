"""Configuration (SPEC §3): defaults, parsing, `.env` under the environment, one-line errors.

Pure tests: they read the environment and a temporary `.env`, no database. Each test starts
from an environment without any Skiplock key (the session fixtures set some) and without the
project's own `.env`, so the defaults seen here are the code's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import config
import config.dashboard
import config.database
import config.queue
import config.schedule
from config import ConfigError
from tests.support import ROOT

KEYS = (
    "DATABASE_URL", "QUEUE_CONNECTION", "QUEUE_DEFAULT", "QUEUE_RETRY_AFTER",
    "JOB_MAX_RETRY_ATTEMPTS", "JOB_RETRY_DELAY", "JOB_DEFAULT_TIMEOUT", "JOB_WORKER_CONCURRENCY",
    "QUEUE_JOB_PACKAGES", "QUEUE_LISTEN", "QUEUE_DISPATCH_LOCK_TIMEOUT", "SCHEDULE_MODULE",
    "SCHEDULE_TIMEZONE", "APP_KEY", "APP_PREVIOUS_KEYS", "DASHBOARD_TOKEN",
    "QUEUE_HEALTH_MAX_WAIT", "QUEUE_METRICS_DAYS", "APP_PROVIDERS", "QUEUE_SUPERVISORS",
)


@pytest.fixture(autouse=True)
def bare_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in KEYS:
        # setenv first so that undo restores the original state even for keys that were unset
        # (a `.env` loaded by a test writes into os.environ behind monkeypatch's back).
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    monkeypatch.setattr(config, "_loaded", True)


def use_dotenv(monkeypatch: pytest.MonkeyPatch, directory: Path, text: str) -> None:
    """Make `directory/.env` (holding `text`) the file the next `config.load_env()` reads."""
    (directory / ".env").write_text(text)
    monkeypatch.setattr(config, "BASE_PATH", directory)
    monkeypatch.setattr(config, "_loaded", False)


def test_every_queue_key_has_its_documented_default() -> None:
    cfg = config.queue.load()
    assert cfg == config.queue.QueueConfig(
        connection="database", default_queue="default", retry_after=90.0, max_tries=3,
        retry_delay=None, timeout=300.0, concurrency=1, job_packages=("app.jobs",), listen=True,
        dispatch_lock_timeout=5.0, vacuum_every=100_000)


def test_database_url_unset_means_the_embedded_server_under_storage() -> None:
    cfg = config.database.load()
    assert cfg.url is None
    assert cfg.embedded_path == config.BASE_PATH / "storage" / "database"


def test_config_values_are_frozen() -> None:
    cfg = config.queue.load()
    with pytest.raises(AttributeError):
        cfg.retry_after = 1  # type: ignore[misc]


def test_every_queue_key_is_read_and_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "QUEUE_CONNECTION": "sync", "QUEUE_DEFAULT": "emails", "QUEUE_RETRY_AFTER": "12.5",
        "JOB_MAX_RETRY_ATTEMPTS": "7", "JOB_RETRY_DELAY": "0", "JOB_DEFAULT_TIMEOUT": "30",
        "JOB_WORKER_CONCURRENCY": "4", "QUEUE_JOB_PACKAGES": " app.jobs, tests.jobs ,",
        "QUEUE_LISTEN": "false", "QUEUE_DISPATCH_LOCK_TIMEOUT": "0.5",
        "QUEUE_VACUUM_EVERY": "0",
    }.items():
        monkeypatch.setenv(key, value)
    assert config.queue.load() == config.queue.QueueConfig(
        connection="sync", default_queue="emails", retry_after=12.5, max_tries=7,
        retry_delay=0.0, timeout=30.0, concurrency=4, job_packages=("app.jobs", "tests.jobs"),
        listen=False, dispatch_lock_timeout=0.5, vacuum_every=0)


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on"])
def test_queue_listen_true_spellings(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("QUEUE_LISTEN", raw)
    assert config.queue.load().listen is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "off"])
def test_queue_listen_false_spellings(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("QUEUE_LISTEN", raw)
    assert config.queue.load().listen is False


def test_an_empty_value_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_RETRY_AFTER", "  ")
    monkeypatch.setenv("DATABASE_URL", "")
    assert config.queue.load().retry_after == 90.0
    assert config.database.load().url is None


@pytest.mark.parametrize("raw", [
    "postgresql://u:p@db.example:5433/app",
    "postgres://u:p@db.example:5433/app",
    "postgresql+psycopg://u:p@db.example:5433/app",
])
def test_database_url_forms_all_use_psycopg3(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("DATABASE_URL", raw)
    assert config.database.load().url == "postgresql+psycopg://u:p@db.example:5433/app"


@pytest.mark.parametrize(("key", "raw"), [
    ("DATABASE_URL", "mysql://u@h/db"),
    ("QUEUE_CONNECTION", "redis"),
    ("QUEUE_RETRY_AFTER", "abc"),
    ("QUEUE_RETRY_AFTER", "-1"),
    ("QUEUE_RETRY_AFTER", "nan"),
    ("QUEUE_RETRY_AFTER", "inf"),
    ("JOB_MAX_RETRY_ATTEMPTS", "0"),
    ("JOB_MAX_RETRY_ATTEMPTS", "2.5"),
    ("JOB_RETRY_DELAY", "soon"),
    ("JOB_DEFAULT_TIMEOUT", "-5"),
    ("JOB_WORKER_CONCURRENCY", "0"),
    ("QUEUE_JOB_PACKAGES", " , "),
    ("QUEUE_LISTEN", "maybe"),
    ("QUEUE_DISPATCH_LOCK_TIMEOUT", "-1"),
])
def test_a_bad_value_is_a_one_line_error_naming_the_key(
        monkeypatch: pytest.MonkeyPatch, key: str, raw: str) -> None:
    monkeypatch.setenv(key, raw)
    loader = config.database.load if key == "DATABASE_URL" else config.queue.load
    with pytest.raises(ConfigError) as caught:
        loader()
    message = str(caught.value)
    assert key in message
    assert raw.strip() in message
    assert "\n" not in message


def test_dotenv_supplies_values_the_environment_lacks(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_dotenv(monkeypatch, tmp_path,
               "QUEUE_DEFAULT=from_dotenv\nJOB_DEFAULT_TIMEOUT=42\n"
               "DATABASE_URL=postgresql://u@dotenv-host/app\n")
    assert config.queue.load().default_queue == "from_dotenv"
    assert config.queue.load().timeout == 42.0
    assert config.database.load().url == "postgresql+psycopg://u@dotenv-host/app"


def test_the_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_dotenv(monkeypatch, tmp_path, "QUEUE_DEFAULT=from_dotenv\nQUEUE_RETRY_AFTER=abc\n")
    monkeypatch.setenv("QUEUE_DEFAULT", "from_env")
    monkeypatch.setenv("QUEUE_RETRY_AFTER", "15")
    cfg = config.queue.load()
    assert cfg.default_queue == "from_env"
    assert cfg.retry_after == 15.0


def test_a_bad_value_in_dotenv_names_the_key(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_dotenv(monkeypatch, tmp_path, "JOB_WORKER_CONCURRENCY=many\n")
    with pytest.raises(ConfigError, match="JOB_WORKER_CONCURRENCY"):
        config.queue.load()


def test_dotenv_is_loaded_once_per_process(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_dotenv(monkeypatch, tmp_path, "QUEUE_DEFAULT=first\n")
    assert config.queue.load().default_queue == "first"
    (tmp_path / ".env").write_text("QUEUE_DEFAULT=second\n")
    assert config.queue.load().default_queue == "first"


def test_env_example_documents_every_key() -> None:
    example = (ROOT / ".env.example").read_text()
    missing = [key for key in KEYS if key not in example]
    assert missing == []


def test_schedule_keys_have_their_defaults_and_refuse_bad_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.schedule.load() == config.schedule.ScheduleConfig("app.schedule", "UTC")
    monkeypatch.setenv("SCHEDULE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match="SCHEDULE_TIMEZONE"):
        config.schedule.load()
    monkeypatch.setenv("SCHEDULE_TIMEZONE", "Europe/Paris")
    monkeypatch.setenv("SCHEDULE_MODULE", "app/schedule.py")
    with pytest.raises(ConfigError, match="SCHEDULE_MODULE"):
        config.schedule.load()



def test_dashboard_keys_have_their_defaults_and_refuse_bad_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.dashboard.load() == config.dashboard.DashboardConfig(None, 300.0, 7)
    monkeypatch.setenv("DASHBOARD_TOKEN", "s3cret")
    assert config.dashboard.load().token == "s3cret"
    assert "s3cret" not in repr(config.dashboard.load())
    monkeypatch.setenv("QUEUE_METRICS_DAYS", "0")
    with pytest.raises(ConfigError, match="QUEUE_METRICS_DAYS"):
        config.dashboard.load()
    monkeypatch.setenv("QUEUE_METRICS_DAYS", "3")
    monkeypatch.setenv("QUEUE_HEALTH_MAX_WAIT", "-1")
    with pytest.raises(ConfigError, match="QUEUE_HEALTH_MAX_WAIT"):
        config.dashboard.load()


def test_app_providers_defaults_to_app_providers_and_refuses_a_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import config.app

    assert config.app.load().providers == "app.providers"
    monkeypatch.setenv("APP_PROVIDERS", "app/providers.py")
    with pytest.raises(ConfigError, match="APP_PROVIDERS"):
        config.app.load()
