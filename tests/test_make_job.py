"""make:job through the real CLI."""

from __future__ import annotations

import importlib
import sys

import pytest

from app.queue import dispatch_sync
from tests.conftest import ROOT, artisan

NAME, MODULE = "ZzTmpGeneratedJob", "zz_tmp_generated_job"
TARGET = ROOT / "app" / "jobs" / f"{MODULE}.py"


@pytest.fixture
def generated():
    yield TARGET
    TARGET.unlink(missing_ok=True)
    sys.modules.pop(f"app.jobs.{MODULE}", None)


def test_creates_an_importable_job_that_runs(generated, queue):
    result = artisan("make:job", NAME)
    assert result.returncode == 0, result.stderr
    assert f"app/jobs/{MODULE}.py" in result.stdout
    assert f"class {NAME}(Job):" in generated.read_text()
    module = importlib.import_module(f"app.jobs.{MODULE}")
    job = getattr(module, NAME)()
    assert dispatch_sync(job) is None
    assert job.attempts == 1


def test_sync_stub(generated):
    assert artisan("make:job", NAME, "--sync").returncode == 0
    assert "dispatch_sync" in generated.read_text()


def test_refuses_to_overwrite_without_force(generated):
    assert artisan("make:job", NAME).returncode == 0
    generated.write_text("# edited by hand\n")
    result = artisan("make:job", NAME)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "--force" in result.stderr
    assert generated.read_text() == "# edited by hand\n"
    assert artisan("make:job", NAME, "--force").returncode == 0
    assert f"class {NAME}" in generated.read_text()


@pytest.mark.parametrize("bad", ["9Lives", "send-email", "class", "lower", "Json", "Os", ""])
def test_rejects_bad_names(bad):
    result = artisan("make:job", bad)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and result.stderr.strip()
    assert not (ROOT / "app" / "jobs" / "json.py").exists()


def test_readme_example_job_runs_inline(queue, capsys):
    from app.jobs.send_welcome_email import SendWelcomeEmail

    dispatch_sync(SendWelcomeEmail(7, "a@b.c"))
    assert "Sending welcome email to a@b.c" in capsys.readouterr().out
