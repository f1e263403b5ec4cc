"""Sustained load: 50,000 jobs dispatched in chunks while two workers drain them. Memory stays
flat, the table empties, and VACUUM can reclaim every dead row (no worker pins the horizon)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from app.queue import dispatch_many
from tests.jobs.sample_jobs import Carry
from tests.reliability.support import Fleet, rss_mb, wait_for
from tests.support import count

JOBS, CHUNK = 50_000, 5_000
RSS_GROWTH_MB = 50


def dead_tuples(engine: sa.Engine) -> tuple[int, int, int]:
    """(n_dead_tup, n_live_tup, autovacuum runs) of `jobs`, as the statistics have them now."""
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        row = conn.execute(sa.text(
            "SELECT n_dead_tup, n_live_tup, autovacuum_count FROM pg_stat_user_tables "
            "WHERE relid = 'jobs'::regclass")).one()
    return int(row[0]), int(row[1]), int(row[2])


def horizon_holders(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT pid, application_name, state, xact_start FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_xmin IS NOT NULL "
            "AND pid <> pg_backend_pid()"))]


def test_fifty_thousand_jobs_leave_memory_flat_and_the_table_empty(queue, engine):
    samples: dict[str, list[float]] = {}
    peak_dead = 0
    with Fleet(("--concurrency", "4", "--sleep", "1", "--quiet")) as fleet:
        labels = [fleet.start(), fleet.start()]
        pids = {label: fleet.procs[label].pid for label in labels}
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM workers") == 2, 30)
        for label in labels:
            samples[label] = [rss_mb(pids[label])]
        started = time.monotonic()
        for first in range(0, JOBS, CHUNK):
            # Keep the backlog under two chunks: dispatch goes on as long as the drain does.
            assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") < CHUNK, 120)
            dispatch_many(Carry(n) for n in range(first, first + CHUNK))
            for label in labels:
                samples[label].append(rss_mb(pids[label]))
            peak_dead = max(peak_dead, dead_tuples(engine)[0])
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 120), \
            f"{count(engine, 'SELECT count(*) FROM jobs')} jobs left"
        drained = time.monotonic() - started
        for label in labels:
            samples[label].append(rss_mb(pids[label]))
        assert fleet.alive() == labels
        outputs = fleet.stop()
    assert all(code == 0 for code, _ in outputs.values()), outputs
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0
    # Every job ran exactly once: the workers' own counts add up.
    assert count(engine, "SELECT sum(processed) FROM workers") == JOBS

    dead_at_end, live, autovacuums = dead_tuples(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM jobs"))
    dead_after_vacuum = dead_tuples(engine)[0]
    assert dead_after_vacuum < 500, ("VACUUM could not reclaim the dead rows; backends "
                                     f"holding the xmin horizon: {horizon_holders(engine)}")

    figures = []
    for label in labels:
        start, end, peak = samples[label][0], samples[label][-1], max(samples[label])
        figures.append(f"{label} {start:.0f} -> {end:.0f} MB (peak {peak:.0f})")
        assert end < start + RSS_GROWTH_MB, f"{label} grew from {start:.0f} to {end:.0f} MB"
    print(f"\nsustained load: {JOBS:,} jobs in chunks of {CHUNK:,} drained by 2 workers x 4 in "
          f"{drained:.1f}s ({JOBS / drained:,.0f} jobs/s); RSS {'; '.join(figures)}; jobs "
          f"n_dead_tup peak {peak_dead:,} while running, {dead_at_end:,} at the end "
          f"(n_live_tup {live}, {autovacuums} autovacuum runs), {dead_after_vacuum} after "
          "a plain VACUUM")
