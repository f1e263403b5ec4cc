from __future__ import annotations

from app.queue import Job, dispatch
from tests.support import count


class Noop(Job):
    def __init__(self, n: int) -> None:
        self.n = n

    def handle(self) -> None:
        pass


def test_dispatch_writes_a_row(queue, engine):
    job_id = dispatch(Noop(1))
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id", id=job_id) == 1
