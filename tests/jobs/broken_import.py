"""A job module whose top-level code fails after its job class is defined: a row naming the
class fails with the module's error as a PayloadError, not an exception from the codec."""

from __future__ import annotations

from app.queue import Job


class Unreachable(Job):
    def handle(self) -> None:
        pass


raise RuntimeError("this module is broken at import")
