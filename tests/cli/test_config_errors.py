"""A bad configuration value is one line from the CLI, naming the key."""

from __future__ import annotations

from tests.support import artisan


def test_the_cli_reports_a_bad_database_url_in_one_line() -> None:
    result = artisan("migrate:status", env={"DATABASE_URL": "mysql://u@h/db"})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: invalid value for DATABASE_URL: 'mysql://u@h/db' (must start with postgresql://)"]
    assert result.stdout == ""


def test_the_cli_reports_a_bad_queue_setting_in_one_line() -> None:
    # queue:pause reads the queue configuration before it touches the database, so the
    # unreachable DATABASE_URL proves the bad value is reported first and nothing else runs.
    result = artisan("queue:pause", "config-test", env={
        "QUEUE_RETRY_AFTER": "abc", "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: invalid value for QUEUE_RETRY_AFTER: 'abc'")
    assert "Traceback" not in result.stderr
