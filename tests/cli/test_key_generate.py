"""key:generate through the real CLI: writes APP_KEY to the project's .env, refuses to replace
one without --force; and the keys it makes encrypt and rotate."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, artisan

ENV = ROOT / ".env"


@pytest.fixture
def dotenv(tmp_path: Path) -> Iterator[Path]:
    """The project's .env, put back as it was afterwards (key:generate writes the real one)."""
    saved = tmp_path / "saved.env"
    existed = ENV.exists()
    if existed:
        shutil.copy2(ENV, saved)
    try:
        yield ENV
    finally:
        if existed:
            shutil.copy2(saved, ENV)
        else:
            ENV.unlink(missing_ok=True)


def app_key_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("APP_KEY=")]


def test_key_generate_writes_a_key_once_and_replaces_it_only_with_force(dotenv):
    dotenv.write_text("QUEUE_DEFAULT=mail\n# APP_KEY=commented out stays\n")
    first = artisan("key:generate", env={"APP_KEY": ""})
    assert first.returncode == 0, first.stderr
    [line] = app_key_lines(dotenv)
    assert line.startswith("APP_KEY=base64:")
    assert "QUEUE_DEFAULT=mail" in dotenv.read_text()

    again = artisan("key:generate", env={"APP_KEY": ""})
    assert again.returncode == 1
    assert again.stderr.strip().startswith("error: .env already sets APP_KEY: --force")
    assert app_key_lines(dotenv) == [line]

    forced = artisan("key:generate", "--force", env={"APP_KEY": ""})
    assert forced.returncode == 0
    [replaced] = app_key_lines(dotenv)
    assert replaced != line


def test_key_generate_show_prints_a_key_and_writes_nothing(dotenv):
    dotenv.write_text("")
    result = artisan("key:generate", "--show")
    assert result.returncode == 0
    assert result.stdout.strip().startswith("base64:")
    assert dotenv.read_text() == ""




