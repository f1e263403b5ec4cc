"""The queue-store contract's conformance suite: each check is a function taking a store
(any driver's QueueStore) and asserting one behaviour the contract promises, as River's
riverdrivertest does for its drivers. A driver's test module runs them all against a real
server (tests/integration/test_redis_store.py for Redis); the PostgreSQL driver can run the
same list next.

Each check uses queues and workers of its own (random names), so checks share a store without
cleaning it between them, and never disturb jobs they did not push."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from app.queue.connections.records import CancelOutcome, ClaimedJob, NewJob, UniqueLock
from app.queue.ids import new_id

Check = Callable[[Any], None]


def _queue() -> str:
    return f"q-{uuid.uuid4().hex[:10]}"


def _worker(store: Any, queues: list[str]) -> str:
    worker = f"w-{uuid.uuid4().hex[:10]}"
    store.register_worker(worker, "test", "localhost", 1, queues, 1)
    return worker


def _job(queue: str, priority: int = 0, payload: str | None = None) -> NewJob:
    job_id = new_id()
    return NewJob(job_id, queue, payload or f'{{"n": "{job_id}"}}', priority)


def _ids(jobs: list[ClaimedJob]) -> list[str]:
    return [job.id for job in jobs]


def _wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class _Outage:
    def down(self, part: str, reason: object) -> None:
        pass

    def up(self, part: str) -> None:
        pass


# --------------------------------------------------------------------------- push, claim


def check_a_pushed_job_is_claimed_with_its_payload_and_first_attempt(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    job = _job(queue, payload='{"hello": "wörld"}')
    assert store.insert_job(job, 0.0, None) is True
    [claimed] = store.claimer().claim(worker, [queue], 10)
    assert (claimed.id, claimed.queue, claimed.payload, claimed.attempts) == (
        job.id, queue, '{"hello": "wörld"}', 1)
    assert claimed.waited >= 0
    assert store.claimer().claim(worker, [queue], 10) == []


def check_claim_order_is_priority_then_availability_then_id(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    past = store.now() - dt.timedelta(seconds=30)
    low = _job(queue, priority=5)
    later = _job(queue, priority=1)
    first_id, second_id = _job(queue, priority=1), _job(queue, priority=1)
    older = _job(queue, priority=1)
    store.insert_job(low, 0.0, None)
    store.insert_job(later, 0.0, None)
    # Same availability: the smaller id first, whatever the order they were pushed in.
    store.insert_job(second_id, 0.0, past)
    store.insert_job(first_id, 0.0, past)
    store.insert_job(older, 0.0, past - dt.timedelta(seconds=10))
    claimed = _ids(store.claimer().claim(worker, [queue], 10))
    assert claimed == [older.id, first_id.id, second_id.id, later.id, low.id]


def check_claim_takes_at_most_limit_and_queues_in_the_order_given(store: Any) -> None:
    first, second = _queue(), _queue()
    worker = _worker(store, [first, second])
    store.insert_jobs([_job(second) for _ in range(3)])
    store.insert_jobs([_job(first) for _ in range(2)])
    claimed = store.claimer().claim(worker, [first, second], 3)
    assert [job.queue for job in claimed] == [first, first, second]
    assert len(store.claimer().claim(worker, [first, second], 10)) == 2


def check_acks_ride_on_the_claim_and_only_the_holders_count(store: Any) -> None:
    queue = _queue()
    worker, other = _worker(store, [queue]), _worker(store, [queue])
    store.insert_jobs([_job(queue) for _ in range(2)])
    claimer = store.claimer()
    done, held = claimer.claim(worker, [queue], 2)
    # Another worker's ack of these jobs deletes nothing.
    store.claimer().claim(other, [queue], 1, acks=[done.id, held.id])
    assert store.reserved_job(done.id, worker) is not None
    claimer.claim(worker, [queue], 1, acks=[done.id])
    assert store.reserved_job(done.id, worker) is None
    assert store.reserved_job(held.id, worker) is not None
    claimer.acknowledge(worker, [held.id])
    assert store.reserved_job(held.id, worker) is None
    assert store.cancel(done.id, "x") is CancelOutcome.UNKNOWN


def check_a_bulk_push_is_claimed_once_each(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    jobs = [_job(queue) for _ in range(1234)]
    store.insert_jobs(iter(jobs))
    claimer, seen = store.claimer(), []
    while batch := claimer.claim(worker, [queue], 100, acks=seen[-100:]):
        seen += _ids(batch)
    assert sorted(seen) == sorted(job.id for job in jobs)


def check_a_delayed_job_becomes_ready_after_its_delay(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    job = _job(queue)
    store.insert_job(job, 0.4, None)
    assert store.claimer().claim(worker, [queue], 1) == []
    assert store.pending_counts([queue]) == {}
    time.sleep(0.5)
    assert store.pending_counts([queue]) == {queue: 1}
    assert _ids(store.claimer().claim(worker, [queue], 1)) == [job.id]


def check_a_job_at_run_at_waits_until_then(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    job = _job(queue)
    store.insert_job(job, 0.0, store.now() + dt.timedelta(seconds=0.4))
    assert store.claimer().claim(worker, [queue], 1) == []
    assert _wait_until(lambda: bool(store.claimer().claim(worker, [queue], 1)), 2.0)


# ---------------------------------------------------------------------------- outcomes


def check_release_puts_the_job_back_after_its_delay_with_the_attempt_counted(
        store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    job = _job(queue)
    store.insert_job(job, 0.0, None)
    store.claimer().claim(worker, [queue], 1)
    assert store.release(worker, job.id, 0.4, "boom") is True
    assert store.claimer().claim(worker, [queue], 1) == []
    time.sleep(0.5)
    [again] = store.claimer().claim(worker, [queue], 1)
    assert (again.id, again.attempts) == (job.id, 2)
    assert store.release(worker, job.id, 0.0, None) is True
    assert store.claimer().claim(worker, [queue], 1)[0].attempts == 3


def check_release_limited_does_not_count_the_attempt(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    job = _job(queue)
    store.insert_job(job, 0.0, None)
    store.claimer().claim(worker, [queue], 1)
    assert store.release_limited(worker, job.id, 0.0) is True
    assert store.claimer().claim(worker, [queue], 1)[0].attempts == 1


def check_outcomes_of_a_job_another_worker_holds_do_nothing(store: Any) -> None:
    queue = _queue()
    worker, other = _worker(store, [queue]), _worker(store, [queue])
    job = _job(queue)
    store.insert_job(job, 0.0, None)
    store.claimer().claim(worker, [queue], 1)
    assert store.release(other, job.id, 0.0, None) is False
    assert store.release_limited(other, job.id, 0.0) is False
    assert store.fail(other, job.id, "not yours") is None
    assert store.reserved_job(job.id, other) is None
    assert store.reserved_job(job.id, worker) is not None


def check_fail_moves_the_job_out_and_cancel_then_finds_it_finished(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    job = _job(queue)
    store.insert_job(job, 0.0, None)
    store.claimer().claim(worker, [queue], 1)
    recorded = store.fail(worker, job.id, "Traceback…\nValueError: boom", "ValueError: boom")
    assert recorded is not None and recorded.finished_batch is None
    assert store.reserved_job(job.id, worker) is None
    assert store.fail(worker, job.id, "again") is None
    assert store.cancel(job.id, "x") is CancelOutcome.FINISHED
    store.append_failure_note(job.id, "\nfailed() raised too")


def check_release_unstarted_and_give_back_unseen_do_not_count_the_attempt(
        store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    store.insert_jobs([_job(queue) for _ in range(4)])
    kept, unstarted, *unseen = store.claimer().claim(worker, [queue], 4)
    store.release_unstarted(worker, [unstarted.id])
    assert sorted(store.give_back_unseen(worker, [kept.id])) == sorted(_ids(unseen))
    again = store.claimer().claim(worker, [queue], 10)
    assert sorted(_ids(again)) == sorted([unstarted.id, *_ids(unseen)])
    assert {job.attempts for job in again} == {1}
    assert store.reserved_job(kept.id, worker) is not None


def check_abandon_worker_deletes_done_and_gives_back_the_rest(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    store.insert_jobs([_job(queue) for _ in range(3)])
    done, unstarted, interrupted = store.claimer().claim(worker, [queue], 3)
    assert store.abandon_worker(worker, [done.id], [unstarted.id], 1, 0) == 2
    other = _worker(store, [queue])
    again = {job.id: job.attempts for job in store.claimer().claim(other, [queue], 10)}
    assert again == {unstarted.id: 1, interrupted.id: 2}


def check_set_progress_of_the_holder_is_accepted(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    job = _job(queue)
    store.insert_job(job, 0.0, None)
    store.claimer().claim(worker, [queue], 1)
    store.set_progress(worker, job.id, 42.5, "halfway")
    store.set_progress("someone-else", job.id, 99.0, None)
    assert store.reserved_job(job.id, worker) is not None


def check_reserved_job_returns_the_holders_job_as_claimed(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    job = _job(queue)
    store.insert_job(job, 0.0, None)
    store.claimer().claim(worker, [queue], 1)
    found = store.reserved_job(job.id, worker)
    assert (found.id, found.queue, found.payload, found.attempts) == (
        job.id, queue, job.payload, 1)
    assert store.reserved_job("no-such-job", worker) is None


# ------------------------------------------------------------------------------ unique


def check_a_unique_lock_refuses_a_second_push_until_the_job_is_done(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    lock = UniqueLock(f"Report:{uuid.uuid4().hex}", 60.0, at_start=False)
    first = _job(queue)
    assert store.insert_job(first, 0.0, None, lock=lock) is True
    assert store.insert_job(_job(queue), 0.0, None, lock=lock) is False
    store.claimer().claim(worker, [queue], 1)
    assert store.insert_job(_job(queue), 0.0, None, lock=lock) is False  # still running
    store.claimer().acknowledge(worker, [first.id])
    assert store.insert_job(_job(queue), 0.0, None, lock=lock) is True


def check_a_unique_lock_until_processing_ends_as_the_job_starts(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    lock = UniqueLock(f"Report:{uuid.uuid4().hex}", 60.0, at_start=True)
    assert store.insert_job(_job(queue), 0.0, None, lock=lock) is True
    assert store.insert_job(_job(queue), 0.0, None, lock=lock) is False
    store.claimer().claim(worker, [queue], 1)
    assert store.insert_job(_job(queue), 0.0, None, lock=lock) is True


def check_a_unique_lock_expires_after_its_seconds(store: Any) -> None:
    queue = _queue()
    lock = UniqueLock(f"Report:{uuid.uuid4().hex}", 0.3, at_start=False)
    assert store.insert_job(_job(queue), 0.0, None, lock=lock) is True
    assert store.insert_job(_job(queue), 0.0, None, lock=lock) is False
    time.sleep(0.4)
    assert store.insert_job(_job(queue), 0.0, None, lock=lock) is True


def check_a_bulk_unique_push_skips_held_and_repeated_locks(store: Any) -> None:
    queue = _queue()
    held = UniqueLock(f"A:{uuid.uuid4().hex}", 60.0, False)
    fresh = UniqueLock(f"B:{uuid.uuid4().hex}", 60.0, False)
    store.insert_job(_job(queue), 0.0, None, lock=held)
    jobs = [_job(queue) for _ in range(4)]
    pushed = store.insert_jobs_unique(jobs, [held, fresh, fresh, None])
    assert pushed == {jobs[1].id, jobs[3].id}


# ------------------------------------------------------------------------ cancel, pause


def check_cancel_of_a_waiting_job_removes_it(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    waiting, delayed = _job(queue), _job(queue)
    store.insert_job(waiting, 0.0, None)
    store.insert_job(delayed, 60.0, None)
    assert store.cancel(waiting.id, "JobCancelled") is CancelOutcome.REMOVED
    assert store.cancel(delayed.id, "JobCancelled") is CancelOutcome.REMOVED
    assert store.claimer().claim(worker, [queue], 10) == []
    assert store.cancel(waiting.id, "again") is CancelOutcome.FINISHED
    assert store.cancel(new_id(), "x") is CancelOutcome.UNKNOWN


def check_cancel_of_a_running_job_tells_its_worker(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    job = _job(queue)
    store.insert_job(job, 0.0, None)
    store.claimer().claim(worker, [queue], 1)
    assert store.cancel(job.id, "JobCancelled") is CancelOutcome.STOPPING
    beat = store.heartbeat(worker, 1, 0, 0)
    assert list(beat.cancelled) == [job.id]
    # Given back (its worker died), it comes back marked cancelled: failed, never run.
    store.release_unstarted(worker, [job.id])
    [again] = store.claimer().claim(worker, [queue], 1)
    assert again.cancelled is True


def check_a_paused_queue_is_not_claimed_until_resumed(store: Any) -> None:
    queue, other = _queue(), _queue()
    worker = _worker(store, [queue, other])
    job, free = _job(queue), _job(other)
    store.insert_job(job, 0.0, None)
    store.insert_job(free, 0.0, None)
    assert store.pause(queue) is True
    assert store.pause(queue) is False
    assert queue in store.paused_queues()
    assert _ids(store.claimer().claim(worker, [queue, other], 10)) == [free.id]
    assert store.resume(queue) is True
    assert store.resume(queue) is False
    assert queue not in store.paused_queues()
    assert _ids(store.claimer().claim(worker, [queue, other], 10)) == [job.id]


# ----------------------------------------------------------------------------- workers


def check_a_dead_workers_jobs_are_rescued_and_a_live_ones_never(store: Any) -> None:
    queue = _queue()
    dead, live = _worker(store, [queue]), _worker(store, [queue])
    lost, long_running = _job(queue), _job(queue)
    store.insert_job(lost, 0.0, None)
    store.claimer().claim(dead, [queue], 1)
    store.insert_job(long_running, 0.0, None)
    store.claimer().claim(live, [queue], 1)
    deadline = time.monotonic() + 0.8
    while time.monotonic() < deadline:  # the live one beats; the dead one is silent
        store.heartbeat(live, 1, 0, 0)
        time.sleep(0.05)
    # Membership, not equality: other checks' silent workers may share the store.
    rescued = store.rescue_jobs_of_dead_workers(0.5)
    assert lost.id in rescued and long_running.id not in rescued
    assert lost.id not in store.rescue_jobs_of_dead_workers(0.5)
    assert store.reserved_job(long_running.id, live) is not None
    assert store.release(dead, lost.id, 0.0, None) is False  # no longer its
    beat = store.heartbeat(dead, 0, 0, 0)
    assert beat is not None and beat.was_presumed_dead is True
    assert store.heartbeat(dead, 0, 0, 0).was_presumed_dead is False
    [again] = store.claimer().claim(live, [queue], 1)
    assert (again.id, again.attempts) == (lost.id, 2)


def check_a_reservation_whose_worker_has_no_record_is_rescued(store: Any) -> None:
    queue = _queue()
    job = _job(queue)
    store.insert_job(job, 0.0, None)
    store.claimer().claim("never-registered-" + uuid.uuid4().hex, [queue], 1)
    assert job.id not in store.rescue_jobs_of_dead_workers(0.3)
    time.sleep(0.4)
    assert job.id in store.rescue_jobs_of_dead_workers(0.3)


def check_heartbeat_reports_a_restart_and_a_missing_record(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    before = store.heartbeat(worker, 0, 0, 0)
    assert before is not None and before.was_presumed_dead is False
    signalled = store.signal_restart()
    beat = store.heartbeat(worker, 0, 3, 1)
    assert beat.restart_at is not None
    assert abs((beat.restart_at - signalled).total_seconds()) < 0.01
    assert store.heartbeat("no-such-worker-" + uuid.uuid4().hex, 0, 0, 0) is None
    store.stop_worker(worker, 3, 1, "done")
    store.prune_stopped_workers()


def check_register_worker_returns_its_start_on_the_stores_clock(store: Any) -> None:
    started = store.register_worker("w-" + uuid.uuid4().hex, "n", "h", 1, [_queue()], 2)
    assert abs((started - store.now()).total_seconds()) < 2.0
    assert abs((store.now() - dt.datetime.now(dt.UTC)).total_seconds()) < 5.0


# ------------------------------------------------------------------ concurrency, wakeups


def check_claimers_racing_claim_every_job_exactly_once(store: Any) -> None:
    queue = _queue()
    jobs = [_job(queue) for _ in range(2000)]
    store.insert_jobs(jobs)
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def drain() -> None:
        worker = _worker(store, [queue])
        claimer, done = store.claimer(), []
        while batch := claimer.claim(worker, [queue], 7, acks=done):
            done = _ids(batch)
            with lock:
                counts.update(done)
        claimer.acknowledge(worker, done)

    threads = [threading.Thread(target=drain) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(counts) == len(jobs)
    assert set(counts.values()) == {1}


def check_a_push_wakes_a_listener_and_a_cancel_notice_reaches_it(store: Any) -> None:
    queue = _queue()
    worker = _worker(store, [queue])
    woken, notices = threading.Event(), []
    listener = store.listener([queue], woken.set, _Outage(), notices.append)
    listener.start()
    try:
        assert listener.ready.wait(5)
        woken.clear()
        job = _job(queue)
        store.insert_job(job, 0.0, None)
        assert woken.wait(5)
        store.claimer().claim(worker, [queue], 1)
        store.cancel(job.id, "JobCancelled")
        assert _wait_until(lambda: notices == [f"{worker} {job.id}"])
    finally:
        listener.stop()


CHECKS: list[Check] = [value for name, value in sorted(globals().items())
                       if name.startswith("check_") and callable(value)]
