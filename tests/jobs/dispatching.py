"""Jobs for the dispatch checks of issue 26: options of the wrong type, private and `job_id`
attributes, constructor arguments named like Job's methods but stored under another name, and
an encrypted job whose error message would carry its secret."""

from __future__ import annotations

from typing import Any

from app.queue import Job
from tests.jobs.basic import record


class BadTries(Job):
    tries = "3"  # type: ignore[assignment]

    def handle(self) -> None:
        pass


class BadBackoff(Job):
    backoff = [10, None]  # type: ignore[list-item]

    def handle(self) -> None:
        pass


class Plain(Job):
    """Options settable per instance (the tests give it bad ones)."""

    def handle(self) -> None:
        pass


class Anything(Job):
    """**kwargs, as a job made by POST /api/jobs can be."""

    def __init__(self, **options: Any) -> None:
        self.__dict__.update(options)

    def handle(self) -> None:
        pass


class KeepsTokenPrivate(Job):
    def __init__(self, token: str) -> None:
        self._token = token

    def handle(self) -> None:
        pass


class SetsItsOwnJobId(Job):
    def __init__(self, order: int) -> None:
        self.order = order
        self.job_id = f"order-{order}"

    def handle(self) -> None:
        pass


class NamesItsArgumentsLikeJobs(Job):
    """`fail`, `error` and `progress` are Job's, but kept under other names: no clash."""

    def __init__(self, tag: str, fail: bool = False, error: str = "",
                 progress: int = 0) -> None:
        self.tag = tag
        self.should_fail = fail
        self.message = error
        self.done_percent = progress

    def handle(self) -> None:
        record(self, f"{self.should_fail} {self.message} {self.done_percent}", self.tag)


class ParsesCard(Job):
    """An encrypted job whose error message would quote its secret (int('4111-…'))."""

    encrypted = True
    tries = 1

    def __init__(self, card: str) -> None:
        self.card = card

    def handle(self) -> None:
        int(self.card)


class ParsesCardAndSaysSo(ParsesCard):
    """The same, opted back in to error messages."""

    redact_errors = False
