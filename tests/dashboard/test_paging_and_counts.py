"""What keeps pages fast at 1,000,000 jobs: the bounded keyset walk and the shared counts."""

from __future__ import annotations

from app.dashboard.counts import QueueCounts
from app.dashboard.store import DashboardStore, JobFilter
from app.queue import dispatch, dispatch_many
from app.queue.admin import QueueAdmin
from tests.dashboard.conftest import BEARER
from tests.jobs.basic import Record
from tests.support import wait_for


def test_a_filter_matching_only_old_jobs_is_found_page_by_bounded_page(queue, engine) -> None:
    rare = dispatch(Record("rare"), queue="rare")
    dispatch_many([Record(str(n)) for n in range(25)])
    store = DashboardStore(engine)
    where = JobFilter(queue="rare")
    before, pages, found = None, 0, []
    while True:
        page = store.jobs(where, before, limit=5, scan=10)
        pages += 1
        found += [row.id for row in page.rows]
        if page.next_before is None:
            break
        assert page.searched_out  # fewer than a page matched among the rows looked at
        before = page.next_before
    assert found == [rare]
    assert pages == 3  # 26 jobs, 10 looked at per page


def test_a_full_page_continues_after_its_last_row(queue, engine) -> None:
    ids = dispatch_many([Record(str(n)) for n in range(12)])
    page = DashboardStore(engine).jobs(JobFilter(), None, limit=5, scan=10)
    assert [row.id for row in page.rows] == ids[::-1][:5]
    assert (page.next_before, page.searched_out) == (ids[-5], False)


def test_api_follows_next_before_to_every_match(client) -> None:
    dispatch_many([Record(str(n)) for n in range(3)])
    answer = client.get("/api/jobs?limit=2", headers=BEARER).json()
    rest = client.get(f"/api/jobs?limit=2&before={answer['next_before']}", headers=BEARER)
    assert len(answer["jobs"]) + len(rest.json()["jobs"]) == 3
    assert rest.json()["next_before"] is None


class SlowClock:
    """Each reading is 0.1 s after the last: every count looks slow (0.1 s)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.1
        return self.now


def test_cheap_counts_are_always_fresh(queue, engine) -> None:
    counts = QueueCounts(QueueAdmin(engine))
    assert [(q.queue, q.pending) for q in counts.get().stats] == [("default", 0)]
    dispatch(Record("a"))
    assert counts.get().stats[0].pending == 1


def test_slow_counts_are_a_snapshot_refreshed_in_the_background(queue, engine) -> None:
    clock = SlowClock()
    counts = QueueCounts(QueueAdmin(engine), clock=clock)
    assert counts.get().stats[0].pending == 0  # the first request counts itself
    dispatch(Record("a"))
    assert counts.get().stats[0].pending == 0  # served at once from the snapshot (< 2 s old)
    clock.now += 10  # older than ten times its cost
    assert wait_for(lambda: counts.get().stats[0].pending == 1, timeout=10)


def test_queues_of_live_workers_are_listed_while_empty(queue, engine) -> None:
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO workers (id, name, host, pid, queues, concurrency) "
                             "VALUES ('w1', 'w1', 'h', 1, ARRAY['emails', 'high'], 1)"))
    names = [q.queue for q in QueueCounts(QueueAdmin(engine)).get().stats]
    assert names == ["default", "emails", "high"]
