"""MetricsRecorder: counts in memory, one statement per flush into queue_metrics."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.database import make_engine
from app.queue.errors import DatabaseUnavailable
from app.queue.metrics import MetricsRecorder, MetricsStore

T0 = 1_800_000_000.0  # a whole minute (divisible by 60)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rows(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT extract(epoch FROM minute)::bigint, queue, job_class, processed, failed, "
            "runtime_sum, runtime_max, wait_sum, wait_max FROM queue_metrics "
            "ORDER BY 1, 2, 3"))]


def statements(engine: sa.Engine) -> list[str]:
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: seen.append(statement))
    return seen


def test_attempts_are_summed_per_minute_queue_and_class(queue, engine) -> None:
    clock = Clock(T0 + 5)
    recorder = MetricsRecorder(clock=clock)
    recorder.add("q", "A", runtime=1.0, wait=0.5, failed=False)
    recorder.add("q", "A", runtime=3.0, wait=0.1, failed=True)
    recorder.add("q", "B", runtime=2.0, wait=0.0, failed=False)
    clock.now = T0 + 65
    recorder.add("q", "A", runtime=0.5, wait=2.0, failed=False)
    assert recorder.pending() == 3
    recorder.flush(MetricsStore(engine))
    assert recorder.pending() == 0
    assert rows(engine) == [
        (T0, "q", "A", 2, 1, 4.0, 3.0, 0.6, 0.5),
        (T0, "q", "B", 1, 0, 2.0, 2.0, 0.0, 0.0),
        (T0 + 60, "q", "A", 1, 0, 0.5, 0.5, 2.0, 2.0)]


def buckets(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT runtime_buckets, wait_buckets FROM queue_metrics ORDER BY minute"))]


def test_runtimes_and_waits_are_counted_per_bucket_and_flushes_add_them(queue, engine) -> None:
    store = MetricsStore(engine)
    first, second = MetricsRecorder(clock=Clock(T0)), MetricsRecorder(clock=Clock(T0 + 30))
    # Bounds (BUCKETS): 0.001 0.005 0.01 0.05 0.1 0.5 1 5 10 30 60 300, then +Inf.
    first.add("q", "A", runtime=0.0005, wait=0.0, failed=False)   # bucket 0, wait 0
    first.add("q", "A", runtime=0.001, wait=2.0, failed=False)    # 0 (le is inclusive), 7
    first.add("q", "A", runtime=0.2, wait=400.0, failed=False)    # 5, wait +Inf
    first.flush(store)
    second.add("q", "A", runtime=0.2, wait=0.03, failed=True)     # 5, wait 3
    second.flush(store)
    assert buckets(engine) == [([2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
                                [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1])]


def test_flushes_of_several_workers_add_up_in_one_statement_each(queue, engine) -> None:
    store = MetricsStore(engine)
    first, second = MetricsRecorder(clock=Clock(T0)), MetricsRecorder(clock=Clock(T0 + 30))
    first.flush(store)  # the first flush also prunes once
    second.flush(store)
    for n in range(100):
        first.add("q", "A", runtime=1.0, wait=1.0, failed=n == 0)
        second.add("q", "A", runtime=2.0, wait=0.5, failed=False)
    seen = statements(engine)
    first.flush(store)
    second.flush(store)
    writes = [s for s in seen if "queue_metrics" in s]
    assert len(writes) == 2  # one per flush, however many jobs were counted
    assert rows(engine) == [(T0, "q", "A", 200, 1, 300.0, 2.0, 150.0, 1.0)]


def test_counts_survive_a_flush_the_database_refused(queue, engine) -> None:
    recorder = MetricsRecorder(clock=Clock(T0))
    recorder.add("q", "A", runtime=1.0, wait=1.0, failed=False)
    down = make_engine(engine.url.set(port=1).render_as_string(hide_password=False))
    with pytest.raises(DatabaseUnavailable):
        recorder.flush(MetricsStore(down))
    recorder.add("q", "A", runtime=1.0, wait=3.0, failed=True)
    recorder.flush(MetricsStore(engine))
    assert rows(engine) == [(T0, "q", "A", 2, 1, 2.0, 1.0, 4.0, 3.0)]


def test_old_minutes_are_pruned_after_keep_days(queue, engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO queue_metrics (minute, queue, job_class, processed) VALUES "
            "(now() - interval '8 days', 'q', 'old', 1), (now() - interval '6 days', 'q', "
            "'kept', 1)"))
    MetricsRecorder(keep_days=7).flush(MetricsStore(engine))
    assert [row[2] for row in rows(engine)] == ["kept"]


def test_adds_from_many_threads_during_flushes_are_all_counted(queue, engine) -> None:
    recorder = MetricsRecorder(clock=Clock(T0))
    store = MetricsStore(engine)

    def count_some() -> None:
        for _ in range(5000):
            recorder.add("q", "A", runtime=0.001, wait=0.0, failed=False)

    threads = [threading.Thread(target=count_some) for _ in range(8)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        recorder.flush(store)  # as the heartbeat thread does while jobs end
    for thread in threads:
        thread.join(timeout=30)
    recorder.flush(store)
    assert rows(engine)[0][3] == 40_000
