"""JobStore statements, and claims through the Claimer as a worker makes them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.queue import dispatch, dispatch_many
from app.queue.connections.database.libpq import Claimer
from app.queue.errors import ClaimRefused
from tests.jobs.basic import Record
from tests.support import claim, count


def test_claim_sets_reservation_and_counts_the_attempt(queue, engine):
    job_id = dispatch(Record("a"))
    [claimed] = claim(queue.store, "w1", ["default"], 5)
    assert claimed.id == job_id and claimed.attempts == 1
    assert claim(queue.store, "w2", ["default"], 5) == []  # reserved rows are not claimable
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT reserved_by, reserved_at FROM jobs")).one()
    assert row.reserved_by == "w1" and row.reserved_at is not None


def test_only_the_holder_can_ack_release_or_fail(queue, engine):
    job_id = dispatch(Record("a"))
    claim(queue.store, "w1", ["default"], 1)
    claim(queue.store, "intruder", [], 0, acks=[job_id])
    assert not queue.store.release("intruder", job_id, 0, "x")
    assert not queue.store.fail("intruder", job_id, "x")
    assert count(engine, "SELECT count(*) FROM jobs WHERE reserved_by = 'w1'") == 1
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0
    assert queue.store.fail("w1", job_id, "boom")
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id = :id", id=job_id) == 1


def test_rescue_gives_back_jobs_of_silent_workers_only(queue, engine):
    store = queue.store
    store.register_worker("dead", "d", "h", 1, ["default"], 1)
    store.register_worker("alive", "a", "h", 2, ["default"], 1)
    dead_job, live_job = dispatch(Record("d")), dispatch(Record("l"))
    claim(store, "dead", ["default"], 1)
    claim(store, "alive", ["default"], 1)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE workers SET heartbeat_at = now() - interval '1 hour' "
                             "WHERE id = 'dead'"))
    assert store.rescue_jobs_of_dead_workers(60) == [dead_job]
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, reserved_by FROM jobs")).all())
        stopped = conn.execute(sa.text("SELECT stopped_at IS NOT NULL FROM workers "
                                       "WHERE id = 'dead'")).scalar_one()
    assert rows == {dead_job: None, live_job: "alive"} and stopped
    # given back with its attempt counted; the next claim is attempt 2
    [again] = claim(store, "alive", ["default"], 1)
    assert again.id == dead_job and again.attempts == 2


def test_a_presumed_dead_worker_that_beats_again_is_alive(queue, engine):
    store = queue.store
    store.register_worker("w", "w", "h", 1, ["default"], 1)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE workers SET heartbeat_at = now() - interval '1 hour'"))
    store.rescue_jobs_of_dead_workers(60)
    beat = store.heartbeat("w", 0, 0, 0)
    assert beat is not None and beat.was_presumed_dead
    assert not store.heartbeat("w", 0, 0, 0).was_presumed_dead
    dispatch(Record("x"))
    claim(store, "w", ["default"], 1)
    assert store.rescue_jobs_of_dead_workers(60) == []  # its new reservations stay its own


def test_the_claimer_plans_its_claim_once_and_walks_the_claim_index(queue, engine):
    """The claimer's connection keeps one generic plan for the claim (no planning per call),
    and on a table that is all one queue — where PostgreSQL's own generic plan was a full scan
    and a sort — that plan is still the walk of jobs_claim_idx."""
    dispatch_many(Record(str(n)) for n in range(10_000))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE jobs"))
    claimer = queue.store.claimer(prepare=True)
    try:
        # An index walk priced high, as for a claim index grown by churn (seen here: a full
        # scan and a sort planned at 10,000 rows) or on a server tuned for slow disks.
        claimer.conn = claimer._connect()
        claimer.conn.execute("SET random_page_cost = 1000")
        acks: list[str] = []
        for _ in range(8):
            acks = [job.id for job in claimer.claim("w", ["default"], 10, acks)]
            assert len(acks) == 10
        conn = claimer.conn
        assert conn is not None
        name, generic, custom = conn.execute(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements").fetchone()
        assert generic >= 8 and custom == 0
        assert name == claimer.STATEMENT.decode()
        plan = "\n".join(row[0] for row in conn.execute(
            f"EXPLAIN EXECUTE {name}('{{}}', 'w', '{{default}}', 10)"))
    finally:
        claimer.close()
    assert "Index Scan using jobs_claim_idx" in plan, plan
    assert "Seq Scan on jobs" not in plan and "Sort" not in plan, plan


def test_a_claim_planned_on_an_empty_table_stays_a_lookup_per_row(queue, engine):
    """A worker that starts while jobs is empty (a fresh install, or just after a VACUUM
    truncated it) keeps the plan it made then. Joined by id, that plan walked the whole primary
    key on every claim once a backlog came (328 ms a claim at 50,000 rows); by ctid it fetches
    each picked row alone, however many rows wait."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE jobs"))  # empty: truncated to no pages
    claimer = queue.store.claimer(prepare=True)
    try:
        assert claimer.claim("w", ["default"], 10) == []  # planned now, on the empty table
        dispatch_many(Record(str(n)) for n in range(5_000))
        conn = claimer.conn
        assert conn is not None
        with conn.transaction(force_rollback=True):
            plan = conn.execute(
                f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {claimer.STATEMENT.decode()}"
                "('{}', 'w', '{default}', 10)").fetchone()[0][0]["Plan"]
    finally:
        claimer.close()
    assert plan["Actual Rows"] == 10
    rows_read = [node["Actual Rows"] * node["Actual Loops"] for node in plan_nodes(plan)
                 if node.get("Relation Name") == "jobs" and node["Node Type"] != "ModifyTable"]
    assert max(rows_read) <= 20, rows_read  # not the 5,000 of a walk of the whole table


def plan_nodes(node: dict) -> list[dict]:
    return [node, *(found for child in node.get("Plans", []) for found in plan_nodes(child))]



@pytest.mark.parametrize("prepare", [True, False])
def test_the_claimer_claims_and_acknowledges_ids_of_any_spelling(queue, engine, prepare):
    # Ids are ours (ULIDs) unless a row was written by hand: the claimer writes its own array
    # literals, so quotes, commas, braces, backslashes and the word NULL must survive it.
    odd = ["NULL", "a,b", 'q"uote', "back\\slash", "sp ace", "{brace}", "été"]
    with engine.begin() as conn:
        for id_ in odd:
            conn.execute(sa.text("INSERT INTO jobs (id, queue, payload) VALUES (:id, 'odd', "
                                 "'{\"job\": \"x\", \"data\": {}}')"), {"id": id_})
    claimer = queue.store.claimer(prepare=prepare)
    try:
        claimed = claimer.claim("w", ["odd", 'other "queue"'], 10)
        assert sorted(job.id for job in claimed) == sorted(odd)
        assert claimer.claim("w", ["odd"], 10, [job.id for job in claimed]) == []
    finally:
        claimer.close()
    assert count(engine, "SELECT count(*) FROM jobs") == 0




def test_a_claim_the_server_cannot_prepare_is_refused_with_its_reason(queue, engine,
                                                                      database_url):
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS no_tables"))
    url = sa.make_url(database_url).update_query_dict({"options": "-csearch_path=no_tables"})
    claimer = Claimer(url, prepare=True)
    try:
        with pytest.raises(ClaimRefused, match='relation "jobs" does not exist'):
            claimer.claim("w", ["default"], 10)
        assert claimer.conn is None
    finally:
        claimer.close()
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA no_tables"))
