"""A worker adds its per-minute counts to queue_metrics (the dashboard's history): one write
per heartbeat and one at exit, never one per job."""

from __future__ import annotations

import sqlalchemy as sa

from app.queue import dispatch, dispatch_many
from tests.jobs.basic import Aborts, Record
from tests.support import work


def test_a_worker_writes_what_it_processed_and_failed_per_queue_and_class(queue, engine):
    dispatch_many(Record(f"r{i}", 0.01) for i in range(20))
    dispatch(Aborts("a"), queue="other")
    result = work("--queue", "default,other", "--concurrency", "4", "--quiet")
    assert result.returncode == 0, result.stderr
    with engine.connect() as conn:
        rows = {(row.queue, row.job_class): row for row in conn.execute(sa.text(
            "SELECT queue, job_class, sum(processed) AS processed, sum(failed) AS failed, "
            "sum(runtime_sum) AS runtime, max(runtime_max) AS runtime_max, "
            "sum(wait_sum) AS wait FROM queue_metrics GROUP BY queue, job_class"))}
    assert set(rows) == {("default", "Record"), ("other", "Aborts")}
    records, aborts = rows[("default", "Record")], rows[("other", "Aborts")]
    assert (records.processed, records.failed) == (20, 0)
    assert (aborts.processed, aborts.failed) == (1, 1)
    assert records.runtime >= 20 * 0.01 and records.runtime_max >= 0.01
    assert records.wait > 0  # the jobs waited for the worker to start
