"""queue:batches, queue:batch, queue:retry-batch, queue:prune-batches and queue:job's
membership lines, through the real CLI."""

from __future__ import annotations

import json

import sqlalchemy as sa

from app.queue import batch, chain
from tests.jobs.compose import Step
from tests.support import artisan, count, work


def test_queue_batches_and_queue_batch(queue):
    b = batch([Step("a"), Step("b")]).name("import 42").dispatch()
    listed = artisan("queue:batches")
    assert listed.returncode == 0, listed.stderr
    assert b.id in listed.stdout and "import 42" in listed.stdout and "running" in listed.stdout
    shown = json.loads(artisan("queue:batch", b.id, "--json").stdout)
    assert shown["id"] == b.id and shown["name"] == "import 42"
    assert (shown["total_jobs"], shown["pending_jobs"], shown["progress"], shown["state"]) == \
        (2, 2, 0, "running")
    assert work().returncode == 0
    [row] = json.loads(artisan("queue:batches", "--json").stdout)
    assert (row["state"], row["progress"], row["processed_jobs"]) == ("finished", 100, 2)
    text = artisan("queue:batch", b.id)
    assert text.returncode == 0 and "100% (2 of 2 processed)" in text.stdout


def test_an_unknown_batch_is_one_line_and_exit_1(queue):
    for command in ("queue:batch", "queue:retry-batch"):
        result = artisan(command, "01NOSUCHBATCH0000000000000")
        assert result.returncode == 1
        assert result.stderr.strip() == \
            "error: no batch with id 01NOSUCHBATCH0000000000000 (never dispatched, or pruned)"


def test_retry_batch_pushes_its_failed_jobs_back_and_they_count_there(queue, engine):
    b = batch([Step("ok"), Step("bad", fails=True)]).allow_failures().dispatch()
    assert work().returncode == 0
    assert b.fresh().failed_jobs == 1 and b.fresh().finished
    with engine.begin() as conn:  # the failure was fixed: the job now succeeds
        conn.execute(sa.text("UPDATE failed_jobs SET payload = jsonb_set(payload, "
                             "'{data,fails}', 'false')"))
    result = artisan("queue:retry-batch", b.id)
    assert result.returncode == 0 and "1 failed job pushed back" in result.stdout, result.stdout
    assert count(engine, "SELECT count(*) FROM jobs WHERE batch_id = :id", id=b.id) == 1
    assert work().returncode == 0
    assert b.fresh().pending_jobs == 0  # Laravel's counters: failed_jobs stays 1
    assert artisan("queue:retry-batch", b.id).stdout.strip() == \
        f"Batch [{b.id}] has no failed jobs to retry."


def test_prune_batches(queue, engine):
    done = batch([Step("a")]).dispatch()
    assert work().returncode == 0
    running = batch([Step("b")]).dispatch()
    cancelled = batch([Step("c")]).dispatch()
    cancelled.cancel()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE job_batches SET created_at = now() - interval '3 days', "
                             "finished_at = finished_at - interval '3 days', "
                             "cancelled_at = cancelled_at - interval '3 days'"))
    assert artisan("queue:prune-batches", "--hours", "100").stdout.strip() == "Deleted 0 batches."
    result = artisan("queue:prune-batches")  # finished more than 24 h ago
    assert result.stdout.strip() == "Deleted 2 batches."  # the cancelled one finished too
    assert done.fresh is not None and count(engine, "SELECT count(*) FROM job_batches") == 1
    assert artisan("queue:prune-batches", "--unfinished", "48").stdout.strip() == \
        "Deleted 1 batch."
    assert count(engine, "SELECT count(*) FROM job_batches WHERE id = :id", id=running.id) == 0
    bad = artisan("queue:prune-batches", "--cancelled", "-1")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0


def test_queue_job_shows_chain_and_batch_membership(queue):
    first = chain([Step("a"), Step("b"), Step("c")]).dispatch()
    shown = json.loads(artisan("queue:job", first, "--json").stdout)
    assert shown["batch_id"] is None
    assert shown["chain"]["steps_after"] == 2 and len(shown["chain"]["id"]) == 26
    assert "2 more step(s) after this one" in artisan("queue:job", first).stdout
    b = batch([Step("x")]).dispatch()
    with queue.store.engine.connect() as conn:
        member = conn.execute(sa.text("SELECT id FROM jobs WHERE batch_id = :id"),
                              {"id": b.id}).scalar_one()
    shown = json.loads(artisan("queue:job", member, "--json").stdout)
    assert shown["batch_id"] == b.id and shown["chain"] is None
    assert b.id in artisan("queue:job", member).stdout
