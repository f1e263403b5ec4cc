from __future__ import annotations

from app.queue import dispatch
from tests.jobs.sample_jobs import Carry
from tests.support import count


def test_dispatch_writes_a_row(queue, engine):
    # A job of the job packages: dispatch refuses classes no worker would import.
    job_id = dispatch(Carry(1))
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id", id=job_id) == 1
