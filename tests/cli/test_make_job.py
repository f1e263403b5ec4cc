"""make:job through the real CLI."""

from __future__ import annotations

import importlib
import sys

import pytest
import sqlalchemy as sa

from app.queue import dispatch_sync
from tests.support import ROOT, artisan, count, work

NAME, MODULE = "ZzTmpGeneratedJob", "zz_tmp_generated_job"
TARGET = ROOT / "app" / "jobs" / f"{MODULE}.py"
STUB = ROOT / "stubs" / "job.stub"


def forget_module() -> None:
    sys.modules.pop(f"app.jobs.{MODULE}", None)
    importlib.invalidate_caches()


@pytest.fixture
def generated():
    forget_module()
    yield TARGET
    TARGET.unlink(missing_ok=True)
    forget_module()


@pytest.fixture
def edited_stub():
    """The real stub, edited like a user would; restored however the test ends."""
    original = STUB.read_text()
    yield STUB
    STUB.write_text(original)


def load(name: str = NAME) -> type:
    return getattr(importlib.import_module(f"app.jobs.{MODULE}"), name)


def test_creates_an_importable_job_that_runs(generated, queue, engine):
    result = artisan("make:job", NAME)
    assert result.returncode == 0, result.stderr
    assert f"app/jobs/{MODULE}.py" in result.stdout
    assert "queue:work --watch" in result.stdout  # a running worker keeps the old code
    text = generated.read_text()
    assert f"class {NAME}(Job):" in text and "{{" not in text
    job = load()()
    assert dispatch_sync(job) is None
    assert job.attempts == 1
    assert len(job.job_id) == 26
    # And queueable as is: the payload names a class a worker may import.
    load().dispatch()
    assert count(engine, "SELECT count(*) FROM jobs WHERE payload->>'job' = :p",
                 p=f"app.jobs.{MODULE}.{NAME}") == 1


def test_the_stub_log_line_shows_in_the_worker_output(generated, queue):
    assert artisan("make:job", NAME).returncode == 0
    job_id = load().dispatch()
    worked = work()
    assert worked.returncode == 0, worked.stderr
    line = next((line for line in worked.stderr.splitlines() if f"{NAME} {job_id} ran" in line),
                None)
    assert line is not None, worked.stderr
    assert line.endswith("ran (attempt 1)") and f" INFO app.jobs.{MODULE}: " in line


def test_sync_stub(generated, queue):
    result = artisan("make:job", NAME, "--sync")
    assert result.returncode == 0, result.stderr
    text = generated.read_text()
    assert "dispatch_sync" in text and "{{" not in text
    cls = load()
    assert cls.tries == 1
    dispatch_sync(cls())


def test_refuses_to_overwrite_without_force(generated):
    assert artisan("make:job", NAME).returncode == 0
    edited = generated.read_text().replace("pass", "self.edited = True")
    generated.write_text(edited)
    result = artisan("make:job", NAME)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "--force" in result.stderr
    assert generated.read_text() == edited
    assert artisan("make:job", NAME, "--force").returncode == 0
    assert f"class {NAME}" in generated.read_text() and "self.edited" not in generated.read_text()


def test_force_does_not_replace_a_module_that_is_not_this_job(generated):
    generated.write_text("HELPER = 1\n")
    result = artisan("make:job", NAME, "--force")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "does not define class" in result.stderr
    assert generated.read_text() == "HELPER = 1\n"


@pytest.mark.parametrize("bad", [
    "9Lives", "send-email", "Send_Email", "class", "None", "lower", "", "Ünicode", "A" * 101,
    "Job",          # would hide its own base class
    "Json", "Os",   # stdlib modules
    "Typer",        # an installed package
    "Artisan",      # the project's artisan.py
    "Queue",        # stdlib, and a name users reach for
])
def test_rejects_bad_names(bad):
    result = artisan("make:job", bad)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() and result.stderr.strip().count("\n") == 0
    assert sorted(p.name for p in (ROOT / "app" / "jobs").glob("*.py")
                  if p.stem in {"json", "os", "typer", "artisan", "queue", "job"}) == []


def test_user_edited_stub_is_used(generated, edited_stub):
    edited_stub.write_text(edited_stub.read_text()
                           + "\n\n# generated as {{module}} for {{ class }}\n")
    assert artisan("make:job", NAME).returncode == 0
    assert f"# generated as {MODULE} for {NAME}" in generated.read_text()


def test_unknown_placeholder_in_a_stub_is_an_error(generated, edited_stub):
    edited_stub.write_text("class {{ class }}: {{ namespace }}\n")
    result = artisan("make:job", NAME)
    assert result.returncode == 1
    assert "namespace" in result.stderr and result.stderr.strip().count("\n") == 0
    assert not generated.exists()


def test_readme_example_job_runs_inline(queue, capsys):
    from app.jobs.send_welcome_email import SendWelcomeEmail

    dispatch_sync(SendWelcomeEmail(7, "a@b.c"))
    assert "Sending welcome email to a@b.c" in capsys.readouterr().out


BATCHED, BATCHED_MODULE = "ZzTmpBatchedJob", "zz_tmp_batched_job"
"""A name of its own: under pytest -n 2 another worker may be writing NAME's file meanwhile."""


@pytest.fixture
def generated_batched():
    target = ROOT / "app" / "jobs" / f"{BATCHED_MODULE}.py"
    sys.modules.pop(f"app.jobs.{BATCHED_MODULE}", None)
    yield target
    target.unlink(missing_ok=True)
    sys.modules.pop(f"app.jobs.{BATCHED_MODULE}", None)
    importlib.invalidate_caches()


def test_batched_stub_skips_the_work_of_a_cancelled_batch(generated_batched, queue, engine):
    from app.queue import batch, cancel_batch

    result = artisan("make:job", BATCHED, "--batched")
    assert result.returncode == 0, result.stderr
    text = generated_batched.read_text()
    assert "batch = self.batch()" in text and "batch.cancelled" in text and "{{" not in text
    importlib.invalidate_caches()
    cls = getattr(importlib.import_module(f"app.jobs.{BATCHED_MODULE}"), BATCHED)
    b = batch([cls()]).dispatch()
    worked = work()
    assert worked.returncode == 0 and f"ran in batch {b.id}" in worked.stderr, worked.stderr
    b = batch([cls()]).allow_failures().dispatch()
    with engine.begin() as conn:  # cancelled while its job runs: as cancel_batch leaves it
        conn.execute(sa.text("UPDATE job_batches SET cancelled_at = now() WHERE id = :id"),
                     {"id": b.id})
    worked = work()
    assert f"skipped: batch {b.id} was cancelled" in worked.stderr, worked.stderr
    assert cancel_batch(b.id) is False  # already


def test_sync_and_batched_do_not_go_together(generated):
    result = artisan("make:job", NAME, "--sync", "--batched")
    assert result.returncode == 1 and "do not go together" in result.stderr
    assert not generated.exists()
