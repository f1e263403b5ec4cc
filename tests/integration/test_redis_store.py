"""The Redis driver's store against real Redis servers of the tests' own (never the shared
one at 6379): the queue-store conformance suite, then what is the driver's own (the key
layout, the scripts, bad input, claimers in several processes, a Redis Cluster)."""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from app.queue.connections.records import NewJob
from app.queue.connections.redis import (
    LuaScripts,
    QueueKeys,
    RedisStore,
    RedisUnsupported,
    RedisUrlInvalid,
    RedisWithoutLua,
    escape_queue,
)
from app.queue.connections.redis.outbox import move_failed_jobs
from app.queue.connections.redis.scripts import NAMES
from app.queue.errors import DatabaseUnavailable, QueueDatabaseError, QueueError
from app.queue.ids import new_id
from tests.conformance.queue_store import CHECKS, Check
from tests.redis_support import free_port, redis_cluster, redis_server

if not (shutil.which("redis-server") and shutil.which("redis-cli")):
    pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)",
                allow_module_level=True)


@pytest.fixture(scope="session")
def redis_port() -> Iterator[int]:
    with redis_server() as port:
        yield port


@pytest.fixture
def store(redis_port: int) -> Iterator[RedisStore]:
    store = RedisStore(f"redis://127.0.0.1:{redis_port}/0")
    store.client.flushdb()  # the tests' own server
    yield store
    store.close()


@pytest.mark.parametrize("check", CHECKS, ids=[check.__name__[6:] for check in CHECKS])
def test_conformance(store: RedisStore, check: Check) -> None:
    check(store)


# --------------------------------------------------------------------------- key layout


def test_every_key_of_a_queue_carries_its_escaped_name_as_the_hash_tag() -> None:
    keys = QueueKeys("reports {eu}%")
    tag = "{reports %7Beu%7D%25}"
    for key in (keys.ready, keys.delayed, keys.reserved, keys.paused, keys.failed,
                keys.job("01J"), keys.worker_jobs("w1"), keys.unique("k}{")):
        assert key.startswith(f"skiplock:{tag}:")
    assert escape_queue("a}b") != escape_queue("a") and "}" not in escape_queue("a}b")
    assert QueueKeys("default").ready == "skiplock:{default}:ready"


def test_names_that_differ_only_in_braces_share_no_key(store: RedisStore) -> None:
    worker = "w"
    store.register_worker(worker, "n", "h", 1, ["a}b", "a"], 1)
    first, second = NewJob(new_id(), "a}b", "{}", 0), NewJob(new_id(), "a", "{}", 0)
    store.insert_job(first, 0.0, None)
    store.insert_job(second, 0.0, None)
    assert [j.id for j in store.claimer().claim(worker, ["a"], 10)] == [second.id]
    assert [j.id for j in store.claimer().claim(worker, ["a}b"], 10)] == [first.id]


def test_every_script_is_one_file_loaded_by_name(store: RedisStore) -> None:
    scripts = LuaScripts(store.client)
    for name in NAMES:
        assert scripts[name].script.strip()
    scripts.load_everywhere()
    assert all(store.client.script_exists(*(scripts[n].sha for n in NAMES)))


def test_a_server_that_forgot_its_scripts_gets_them_again(store: RedisStore) -> None:
    queue = "noscript"
    store.register_worker("w", "n", "h", 1, [queue], 1)
    store.insert_job(NewJob(new_id(), queue, "{}", 0), 0.0, None)
    store.client.script_flush()  # as after a restart or a failover
    store.insert_jobs([NewJob(new_id(), queue, "{}", 0) for _ in range(3)])
    assert len(store.claimer().claim("w", [queue], 10)) == 4


def test_progress_is_stored_on_the_job(store: RedisStore) -> None:
    store.register_worker("w", "n", "h", 1, ["p"], 1)
    job = NewJob(new_id(), "p", "{}", 0)
    store.insert_job(job, 0.0, None)
    store.claimer().claim("w", ["p"], 1)
    store.set_progress("w", job.id, 42.5, "halfway")
    store.set_progress("other", job.id, 99.0, None)
    assert store.client.hmget(store.keys("p").job(job.id), "pg", "pm") == ["42.5", "halfway"]


def test_a_failed_job_waits_in_its_queues_outbox_with_its_error(store: RedisStore) -> None:
    store.register_worker("w", "n", "h", 1, ["f"], 1)
    job = NewJob(new_id(), "f", '{"a": 1}', 3)
    store.insert_job(job, 0.0, None)
    store.claimer().claim("w", ["f"], 1)
    store.fail("w", job.id, "Traceback\nValueError: boom")
    store.append_failure_note(job.id, "\nfailed() raised")
    record = store.failed_record("f", job.id)
    assert record is not None
    assert (record["payload"], record["attempts"], record["priority"], record["connection"]) \
        == ('{"a": 1}', 1, 3, "redis")
    assert record["exception"] == "Traceback\nValueError: boom\nfailed() raised"
    assert not store.client.exists(store.keys("f").job(job.id))


# ---------------------------------------------------------------------------- bad input


def test_an_unreachable_redis_is_database_unavailable_in_one_line() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(DatabaseUnavailable) as raised:
        store.insert_job(NewJob(new_id(), "q", "{}", 0), 0.0, None)
    assert "\n" not in str(raised.value) and "unreachable" in str(raised.value)
    with pytest.raises(DatabaseUnavailable):
        store.check()


def test_an_unreachable_cluster_is_database_unavailable_in_one_line() -> None:
    with pytest.raises(DatabaseUnavailable) as raised:
        RedisStore(f"redis://127.0.0.1:{free_port()}/0", cluster=True)
    assert "\n" not in str(raised.value) and "unreachable" in str(raised.value)


def test_a_cluster_url_naming_a_plain_server_is_one_line(redis_port: int) -> None:
    with pytest.raises(QueueDatabaseError) as raised:
        RedisStore(f"redis://127.0.0.1:{redis_port}/0", cluster=True).check()
    assert "\n" not in str(raised.value) and "Cluster" in str(raised.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/0", "127.0.0.1:6379",
                                 "redis://127.0.0.1:notaport/0", "redis://127.0.0.1:6379/x"])
def test_a_malformed_url_is_one_line(url: str) -> None:
    with pytest.raises(RedisUrlInvalid) as raised:
        RedisStore(url)
    assert isinstance(raised.value, QueueError) and "\n" not in str(raised.value)


def test_a_url_password_is_never_shown() -> None:
    with pytest.raises(RedisUrlInvalid) as raised:
        RedisStore("redis://user:s3cret@127.0.0.1:nope/0")
    assert "s3cret" not in str(raised.value)


def test_a_redis_without_lua_is_said_in_one_line() -> None:
    with redis_server("--rename-command", "EVAL", "", "--rename-command", "EVALSHA", ""
                      ) as port:
        store = RedisStore(f"redis://127.0.0.1:{port}/0")
        with pytest.raises(RedisWithoutLua) as raised:
            store.check()
        assert "\n" not in str(raised.value) and "Lua" in str(raised.value)
        with pytest.raises(RedisWithoutLua):
            store.insert_job(NewJob(new_id(), "q", "{}", 0), 0.0, None)


def test_a_database_transaction_is_refused_in_one_line(store: RedisStore) -> None:
    with pytest.raises(RedisUnsupported, match="cannot hold a push to Redis"):
        store.insert_job(NewJob(new_id(), "q", "{}", 0), 0.0, None, connection=object())
    with pytest.raises(RedisUnsupported):
        store.insert_member(NewJob(new_id(), "q", "{}", 0), "batch", None)


# ------------------------------------------------------------------ claimers in processes


def _drain(url: str, queue: str, worker: str, out: Any) -> None:
    store = RedisStore(url)
    store.register_worker(worker, "racer", "localhost", 0, [queue], 1)
    claimer, done, seen = store.claimer(), [], []
    while batch := claimer.claim(worker, [queue], 5, acks=done):
        done = [job.id for job in batch]
        seen += done
    claimer.acknowledge(worker, done)
    out.put(seen)


def test_claimers_in_several_processes_claim_every_job_exactly_once(
        store: RedisStore, redis_port: int) -> None:
    queue = "race"
    ids = [new_id() for _ in range(3000)]
    store.insert_jobs(NewJob(job_id, queue, "{}", 0) for job_id in ids)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    url = f"redis://127.0.0.1:{redis_port}/0"
    racers = [context.Process(target=_drain, args=(url, queue, f"racer-{n}", out))
              for n in range(4)]
    for racer in racers:
        racer.start()
    seen: Counter[str] = Counter()
    for _ in racers:
        seen.update(out.get(timeout=120))
    for racer in racers:
        racer.join(30)
    assert sorted(seen) == sorted(ids)
    assert set(seen.values()) == {1}
    assert store.client.zcard(store.keys(queue).reserved) == 0


# ------------------------------------------------------------------------------ cluster


def _errors(store: RedisStore) -> Counter[str]:
    """Every master's error counts, by error (INFO errorstats)."""
    errors: Counter[str] = Counter()
    for node in store.client.get_primaries():
        for name, stat in node.redis_connection.info("errorstats").items():
            errors[name] += int(stat["count"])
    return errors


@pytest.fixture(scope="module")
def cluster_ports() -> Iterator[Any]:
    with redis_cluster(3) as ports:
        yield ports


def test_a_cluster_runs_every_script_on_the_slot_of_its_queue(
        cluster_ports: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    used: set[str] = set()
    lookup = LuaScripts.__getitem__

    def recorded(self: LuaScripts, name: str) -> Any:
        used.add(name)
        return lookup(self, name)

    monkeypatch.setattr(LuaScripts, "__getitem__", recorded)
    store = RedisStore(f"redis://127.0.0.1:{cluster_ports[0]}/0", cluster=True)
    before = _errors(store)
    store.check()
    queues = [f"cluster-{n}" for n in range(6)]
    slots = {queue: store.client.keyslot(store.keys(queue).ready) for queue in queues}
    assert len(set(slots.values())) == len(queues)
    nodes = {store.client.get_node_from_key(store.keys(q).ready).port for q in queues}
    assert len(nodes) > 1  # spread over the masters
    for queue in queues:
        keys = store.keys(queue)
        assert {store.client.keyslot(key) for key in (
            keys.ready, keys.delayed, keys.reserved, keys.job("x"), keys.worker_jobs("w"),
            keys.unique("u"), keys.failed)} == {slots[queue]}

    worker = "cluster-worker"
    store.register_worker(worker, "n", "h", 1, queues, 1)
    pushed = []
    for queue in queues:
        job = NewJob(new_id(), queue, "{}", 0)
        store.insert_job(job, 0.0, None)
        pushed.append(job.id)
        bulk = [NewJob(new_id(), queue, "{}", 0) for _ in range(20)]
        store.insert_jobs(bulk)
        pushed += [job.id for job in bulk]
    store.insert_job(NewJob(new_id(), queues[0], "{}", 0), 0.3, None)  # delayed
    claimer, claimed, done = store.claimer(), [], []
    while batch := claimer.claim(worker, queues, 8, acks=done):
        done = [job.id for job in batch]
        claimed += done
    assert sorted(claimed[:len(pushed)]) == sorted(pushed)
    assert store.pending_counts(queues) in ({}, {queues[0]: 1})

    # The outcomes, the workers' scripts and the cross-queue reads, each on its one slot.
    job = NewJob(new_id(), queues[1], "{}", 0)
    store.insert_job(job, 0.0, None)
    store.claimer().claim(worker, [queues[1]], 1, acks=done)
    assert store.release(worker, job.id, 0.0, "retry") is True
    store.claimer().claim(worker, [queues[1]], 1)
    assert store.cancel(job.id, "JobCancelled").value == "stopping"
    assert list(store.heartbeat(worker, 1, 0, 0).cancelled) == [job.id]
    assert store.fail(worker, job.id, "boom") is not None
    assert store.pause(queues[2]) and store.resume(queues[2])
    assert store.rescue_jobs_of_dead_workers(60.0) == []
    store.insert_jobs_unique([NewJob(new_id(), q, "{}", 0) for q in queues], [None] * 6)
    held = store.claimer().claim(worker, queues, 4)
    store.set_progress(worker, held[0].id, 50.0, "half")
    store.release_unstarted(worker, [held[0].id])
    assert store.give_back_unseen(worker, [held[1].id])
    assert store.abandon_worker(worker, [], [], 0, 0) == 1
    store.prune_stopped_workers()
    assert used == set(NAMES)  # every script ran ...
    # ... and none was refused (CROSSSLOT or any other), but for the first EVALSHA of each
    # script on each master, which loads it (NOSCRIPT). Counted from the test's start: the
    # cluster's creation leaves errors of its own (redis-cli's probes).
    errors = _errors(store) - before
    assert set(errors) <= {"errorstat_NOSCRIPT"}, errors
    store.close()


def test_a_listener_hears_pushes_and_cancels_on_every_master(cluster_ports: Any) -> None:
    store = RedisStore(f"redis://127.0.0.1:{cluster_ports[0]}/0", cluster=True)
    queues = [f"listen-{n}" for n in range(6)]
    woken, notices = [], []

    class Outage:
        def down(self, part: str, reason: object) -> None:
            notices.append(f"down {reason}")

        def up(self, part: str) -> None:
            pass

    listener = store.listener(queues, lambda: woken.append(1), Outage(), notices.append)
    listener.start()
    try:
        assert listener.ready.wait(5)
        time.sleep(0.2)
        woken.clear()
        store.register_worker("lw", "n", "h", 1, queues, 1)
        jobs = [NewJob(new_id(), queue, "{}", 0) for queue in queues]
        for job in jobs:
            store.insert_job(job, 0.0, None)
        deadline = time.monotonic() + 5
        while len(woken) < len(queues) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(woken) >= len(queues)
        claimed = store.claimer().claim("lw", queues[-1:], 1)
        store.cancel(claimed[0].id, "JobCancelled")
        deadline = time.monotonic() + 5
        while not notices and time.monotonic() < deadline:
            time.sleep(0.02)
        assert notices == [f"lw {claimed[0].id}"]
    finally:
        listener.stop()
        store.close()


def test_a_cluster_pipeline_reloads_scripts_a_master_forgot(cluster_ports: Any) -> None:
    store = RedisStore(f"redis://127.0.0.1:{cluster_ports[0]}/0", cluster=True)
    store.insert_jobs([NewJob(new_id(), "reload-a", "{}", 0)])
    for port in cluster_ports:
        redis.Redis(port=port).script_flush()
    queues = ["reload-a", *(f"reload-{n}" for n in range(6))]
    store.insert_jobs([NewJob(new_id(), queue, "{}", 0) for queue in queues])
    store.register_worker("rw", "n", "h", 1, queues, 1)
    claimed = store.claimer().claim("rw", queues, 20)
    assert sorted(job.queue for job in claimed) == sorted([*queues, "reload-a"])
    store.close()



# ------------------------------------------------------------------- failed jobs' home


@pytest.fixture
def failed_table(engine: sa.Engine) -> Iterator[sa.Engine]:
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE failed_jobs"))
    yield engine
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE failed_jobs"))


def test_failed_records_move_to_the_databases_failed_jobs_once(
        store: RedisStore, failed_table: sa.Engine) -> None:
    store.register_worker("w", "n", "h", 1, ["mv"], 1)
    failed, cancelled = NewJob(new_id(), "mv", '{"a": 1}', 2), NewJob(new_id(), "mv", "{}", 0)
    store.insert_job(failed, 0.0, None)
    store.insert_job(cancelled, 60.0, None)
    store.claimer().claim("w", ["mv"], 1)
    store.fail("w", failed.id, "Traceback\x00\nValueError: boom")
    store.cancel(cancelled.id, "JobCancelled")
    leftover = store.client.hget(store.keys("mv").failed, failed.id)
    assert move_failed_jobs(store, failed_table, "fast") == 2
    with failed_table.connect() as conn:
        rows = {row.id: row for row in conn.execute(sa.text(
            "SELECT id, connection, queue, payload, attempts, priority, exception "
            "FROM failed_jobs"))}
    assert set(rows) == {failed.id, cancelled.id}
    row = rows[failed.id]
    assert (row.connection, row.queue, row.payload, row.attempts, row.priority) == (
        "fast", "mv", {"a": 1}, 1, 2)
    assert "ValueError: boom" in row.exception
    assert rows[cancelled.id].exception == "JobCancelled"
    assert store.client.hlen(store.keys("mv").failed) == 0
    assert move_failed_jobs(store, failed_table) == 0
    # A record moved but not yet removed (a crash between the two) is not inserted twice.
    store.client.hset(store.keys("mv").failed, failed.id, leftover)
    store.client.zadd(store.keys("mv").failed_order, {failed.id: 1})
    assert move_failed_jobs(store, failed_table) == 1
    with failed_table.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM failed_jobs")).scalar_one() == 2
