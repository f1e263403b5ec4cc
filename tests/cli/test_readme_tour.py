"""The README's tour, followed literally: its commands run as written, in the project root,
with the job file it shows, and the worker it starts runs the job it dispatched."""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.support import ROOT
from tests.unit.test_docs import README, code_blocks, section

FILE_MARK = re.compile(r"^# (app/jobs/\w+\.py)\n")


def tour_steps() -> list[tuple[str, str]]:
    """The tour's steps in order, up to its first Python block that is not a file: ("sh", a
    command line) or ("file", the block that a `# app/jobs/….py` first line names)."""
    steps: list[tuple[str, str]] = []
    for language, body in code_blocks(section(README.read_text(), "## A tour")):
        if language == "sh":
            steps += [("sh", line.split("  #")[0].strip())
                      for line in body.splitlines() if line.strip()]
        elif language == "python" and FILE_MARK.match(body):
            steps.append(("file", body))
        else:
            break  # from here on the tour shows application code, not steps
    return steps


def run_as_typed(line: str) -> subprocess.CompletedProcess[str]:
    """A tour command as a shell would run it, with this interpreter for `python`."""
    argv = shlex.split(line)
    assert argv[0] == "python", line
    return subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))


@pytest.fixture
def tour_job_files():
    """The job files the tour writes, removed afterwards (and never one that was there)."""
    paths = [ROOT / FILE_MARK.match(body).group(1)  # type: ignore[union-attr]
             for kind, body in tour_steps() if kind == "file"]
    if any(path.exists() for path in paths):
        pytest.skip(f"{[str(p) for p in paths]} exists already: the tour would not be literal")
    yield paths
    for path in paths:
        path.unlink(missing_ok=True)
        sys.modules.pop(f"app.jobs.{path.stem}", None)
    importlib.invalidate_caches()


def test_the_readme_tour_runs_its_job_when_followed_literally(queue, tour_job_files):
    steps = tour_steps()
    commands = [body for kind, body in steps if kind == "sh"]
    assert commands[0].startswith("python artisan.py make:job ")
    assert commands[-1].startswith("python artisan.py queue:work")
    outputs = []
    for kind, body in steps:
        if kind == "file":
            path = ROOT / FILE_MARK.match(body).group(1)  # type: ignore[union-attr]
            assert path.exists(), "make:job should have written the file the tour replaces"
            path.write_text(body)
            continue
        result = run_as_typed(body)
        assert result.returncode == 0, f"{body}\n{result.stdout}\n{result.stderr}"
        outputs.append(result)
    dispatched_id = outputs[-2].stdout.strip()
    assert re.fullmatch(r"[0-9A-Z]{26}", dispatched_id), outputs[-2].stdout
    worker = outputs[-1].stdout
    assert f"{dispatched_id} RUNNING" in worker and "DONE" in worker, worker
    assert "Hello a@b.c (user 7)" in worker
    assert "queue empty" in worker + outputs[-1].stderr
