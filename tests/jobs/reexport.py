"""Job classes that are in the job packages only by name: a row must not reach them here.

`BenchNoop` is imported from app.bench (outside the packages); `Renamed` is a job of
tests.jobs.basic under another name; `Swapped` is defined here, but its name ends up holding
a class from outside the packages, as a decorator that returns another class would leave it.
"""

from __future__ import annotations

from app.bench.bench_noop import BenchNoop
from app.queue import Job
from tests.jobs.basic import Record as Renamed

__all__ = ["BenchNoop", "Renamed", "Swapped"]


def swapped_for_outsider(cls: type) -> type:
    return BenchNoop


@swapped_for_outsider
class Swapped(Job):
    def handle(self) -> None:
        pass
