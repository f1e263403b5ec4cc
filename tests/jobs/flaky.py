"""A job whose failure has an outside cause: it fails until a file exists (for retry tests)."""

from __future__ import annotations

from pathlib import Path

from app.queue import Job
from tests.jobs.basic import record


class NeedsFile(Job):
    """Fails (no retry) while `path` is missing; succeeds once it is there."""

    tries = 1

    def __init__(self, tag: str, path: str) -> None:
        self.tag = tag
        self.path = path

    def handle(self) -> None:
        record(self, f"attempt {self.attempts}", self.tag)
        if not Path(self.path).exists():
            raise FileNotFoundError(f"{self.path} is missing")
        record(self, "done", self.tag)
