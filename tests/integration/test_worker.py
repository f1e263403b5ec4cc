"""queue:work end to end: real worker processes against a real PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from app.queue import dispatch
from tests.jobs.basic import (
    Aborts,
    AlwaysFails,
    AsyncBlocks,
    AsyncRecord,
    AsyncSleeps,
    FailsItself,
    FailTimes,
    Record,
    ReleasesOnce,
    RetryLater,
    Sleeps,
    Spins,
)
from tests.support import (
    ROOT,
    artisan,
    count,
    ctrl_c_as_in_a_terminal,
    ledger,
    start_worker,
    wait_for,
    work,
)


def test_runs_a_job_and_deletes_its_row(queue, engine):
    job_id = dispatch(Record("a"))
    result = work()
    assert result.returncode == 0, result.stderr
    assert ledger(engine) == [("a", "start"), ("a", "end")]
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert job_id in result.stdout and "DONE" in result.stdout


def test_async_handle_runs(queue, engine):
    dispatch(AsyncRecord("x", 0.01))
    assert work().returncode == 0
    assert ledger(engine) == [("x", "start"), ("x", "end")]


def test_queue_order_then_priority(queue, engine):
    for i in range(3):
        dispatch(Record(f"default-{i}"), queue="default")
    dispatch(Record("high-late"), queue="high", priority=5)
    dispatch(Record("high-first"), queue="high", priority=-5)
    dispatch(Record("high-mid"), queue="high")
    assert work("--queue", "high,default").returncode == 0
    starts = [tag for tag, event in ledger(engine) if event == "start"]
    assert starts == ["high-first", "high-mid", "high-late", "default-0", "default-1",
                      "default-2"]


def test_delayed_job_waits_for_its_time(queue, engine):
    with engine.connect() as conn:
        dispatched_at = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
    dispatch(Record("later"), delay=2)
    dispatch(Record("now"))
    proc = start_worker("--sleep", "0.2", "--quiet")
    try:
        assert wait_for(lambda: ("later", "end") in ledger(engine), 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    # Read on the database's clock, so a worker slow to start (a loaded machine) cannot make
    # "later" look early: it started no sooner than 2 s after its dispatch, and after "now".
    with engine.connect() as conn:
        starts = dict(conn.execute(sa.text(
            "SELECT tag, at FROM ledger WHERE event = 'start'")).all())
    assert (starts["later"] - dispatched_at).total_seconds() >= 2.0
    assert starts["now"] < starts["later"]


def test_retries_until_success_keeping_the_id(queue, engine):
    job_id = dispatch(FailTimes("f", failures=2))
    assert work().returncode == 0
    assert [e for _, e in ledger(engine, "f")] == ["attempt 1", "attempt 2", "attempt 3"]
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id = :id", id=job_id) == 0


def test_last_failure_moves_to_failed_jobs_and_calls_failed_once(queue, engine):
    job_id = dispatch(AlwaysFails("z"))
    result = work()
    assert result.returncode == 0
    assert [e for _, e in ledger(engine, "z")] == ["attempt 1", "attempt 2", "failed: RuntimeError"]
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT attempts, exception, queue FROM failed_jobs "
                                   "WHERE id = :id"), {"id": job_id}).one()
    assert row.attempts == 2 and row.queue == "default"
    assert "Traceback" in row.exception and "planned failure 2" in row.exception
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert "FAIL" in result.stdout


def test_abort_and_fail_skip_remaining_tries(queue, engine):
    dispatch(Aborts("ab"))
    dispatch(FailsItself("fi"))
    assert work().returncode == 0
    assert [e for _, e in ledger(engine, "ab")] == ["start", "failed: Abort"]
    assert [e for _, e in ledger(engine, "fi")] == ["start", "failed: Abort"]
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 2


def test_retry_after_and_release_wait_their_delay(queue, engine):
    dispatch(RetryLater("ra", 1.5))
    dispatch(ReleasesOnce("rel", 1.5))
    # --stop-when-empty would exit with both waiting (as Laravel's does): keep one running.
    proc = start_worker("--sleep", "0.2", "--quiet")
    try:
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM ledger") == 4, 20)
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 10)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    with engine.connect() as conn:
        gaps = dict(conn.execute(sa.text(
            "SELECT tag, extract(epoch FROM max(at) - min(at)) FROM ledger GROUP BY tag")).all())
    assert float(gaps["ra"]) >= 1.4 and float(gaps["rel"]) >= 1.4
    assert [e for _, e in ledger(engine, "rel")] == ["attempt 1", "attempt 2"]
    assert count(engine, "SELECT count(*) FROM jobs") == 0




def test_python_code_past_its_timeout_is_interrupted(queue, engine):
    dispatch(Spins("spin", 30))
    dispatch(Record("next"))
    started = time.monotonic()
    result = work("--queue", "default", timeout=60)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 20
    assert ("spin", "end") not in ledger(engine)
    assert ("spin", "failed: JobTimeout") in ledger(engine)
    assert ("next", "end") in ledger(engine)
    with engine.connect() as conn:
        text = conn.execute(sa.text("SELECT exception FROM failed_jobs")).scalar_one()
    assert "ran past its timeout of 2s" in text


@pytest.mark.parametrize("blocker", [Sleeps, AsyncBlocks])
def test_blocked_sleep_past_timeout_restarts_the_worker(queue, engine, blocker):
    """A job sleeping 30 s with timeout = 2 fails as a timeout; the next starts within 10 s.
    The same for an `async def` one blocking the worker's event loop in C."""
    dispatch(blocker("sleepy", 30))
    dispatch(Record("after"))
    proc = start_worker("--sleep", "0.2")
    try:
        assert wait_for(lambda: ("sleepy", "start") in ledger(engine), 20)
        started = time.monotonic()
        assert wait_for(lambda: ("after", "start") in ledger(engine), 15)
        assert time.monotonic() - started < 10
        assert wait_for(lambda: ("sleepy", "failed: JobTimeout") in ledger(engine), 10)
        assert ("sleepy", "end") not in ledger(engine)
        assert count(engine, "SELECT count(*) FROM failed_jobs") == 1
        assert proc.poll() is None  # same process, restarted in place
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def test_async_job_past_its_timeout_is_cancelled(queue, engine):
    dispatch(AsyncSleeps("as", 30))
    started = time.monotonic()
    assert work().returncode == 0
    assert time.monotonic() - started < 15
    assert ("as", "failed: JobTimeout") in ledger(engine)


def test_sigterm_lets_the_running_job_finish(queue, engine):
    dispatch(Record("long", 3))
    proc = start_worker("--sleep", "0.2")
    assert wait_for(lambda: ("long", "start") in ledger(engine), 20)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert ("long", "end") in ledger(engine)
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert count(engine, "SELECT count(*) FROM workers WHERE stopped_at IS NOT NULL") == 1


def test_idle_worker_wakes_on_notify(queue, engine):
    proc = start_worker("--sleep", "20", "--quiet")
    try:
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM workers") == 1, 20)
        time.sleep(0.5)  # let it finish its first (empty) claim and go idle
        dispatch(Record("ping"))
        sent = time.monotonic()
        assert wait_for(lambda: ("ping", "start") in ledger(engine), 5, interval=0.01)
        assert time.monotonic() - sent < 1.0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def test_long_job_on_live_worker_is_not_given_to_another(queue, engine):
    """A 10 s job on a live worker with QUEUE_RETRY_AFTER=2 runs exactly once."""
    dispatch(Record("long", 10))
    env = {"QUEUE_RETRY_AFTER": "2"}
    first = start_worker("--sleep", "0.2", "--quiet", env=env)
    assert wait_for(lambda: ("long", "start") in ledger(engine), 20)
    second = start_worker("--sleep", "0.2", "--quiet", env=env)
    try:
        assert wait_for(lambda: ("long", "end") in ledger(engine), 30)
        time.sleep(1)
        assert [e for _, e in ledger(engine, "long")] == ["start", "end"]
    finally:
        for proc in (first, second):
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)


def test_jobs_of_a_killed_worker_are_given_back(queue, engine):
    dispatch(Record("orphan", 30))
    env = {"QUEUE_RETRY_AFTER": "2"}
    victim = start_worker("--sleep", "0.2", "--quiet", env=env)
    assert wait_for(lambda: ("orphan", "start") in ledger(engine), 20)
    victim.kill()
    victim.wait()
    rescuer = start_worker("--sleep", "0.2", "--quiet", env=env)
    try:
        assert wait_for(lambda: len(ledger(engine, "orphan")) >= 2, 30)
        with engine.connect() as conn:
            attempts = conn.execute(sa.text("SELECT attempts FROM jobs")).scalar_one()
        assert attempts == 2
    finally:
        rescuer.send_signal(signal.SIGTERM)
        rescuer.wait(40)


def test_restart_signal_stops_workers(queue, engine):
    proc = start_worker("--sleep", "0.2", "--quiet", env={"QUEUE_RETRY_AFTER": "2"})
    assert wait_for(lambda: count(engine, "SELECT count(*) FROM workers") == 1, 20)
    assert artisan("queue:restart").returncode == 0
    assert proc.wait(20) == 0


def test_paused_queue_is_not_claimed_until_resumed(queue, engine):
    assert artisan("queue:pause", "default").returncode == 0
    dispatch(Record("p"))
    assert work().returncode == 0
    assert ledger(engine) == []
    assert artisan("queue:resume", "default").returncode == 0
    assert work().returncode == 0
    assert ledger(engine) == [("p", "start"), ("p", "end")]


def test_once_and_max_jobs(queue, engine):
    for i in range(5):
        dispatch(Record(f"j{i}"))
    assert artisan("queue:work", "--once", "--quiet").returncode == 0
    assert count(engine, "SELECT count(*) FROM jobs") == 4
    assert artisan("queue:work", "--max-jobs", "2", "--quiet").returncode == 0
    assert count(engine, "SELECT count(*) FROM jobs") == 2


def test_bad_row_goes_to_failed_jobs_and_worker_goes_on(queue, engine):
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO jobs (id, queue, payload) VALUES ('bad1', 'default', "
                             "CAST(:payload AS jsonb))"),
                     {"payload": '{"job": "os.system", "data": {"command": "touch /tmp/pwned"}}'})
    dispatch(Record("good"))
    assert work().returncode == 0
    assert ("good", "end") in ledger(engine)
    with engine.connect() as conn:
        text = conn.execute(
            sa.text("SELECT exception FROM failed_jobs WHERE id = 'bad1'")).scalar_one()
    assert "outside the job packages" in text


def test_bad_options_are_one_line_errors(queue):
    result = artisan("queue:work", "--concurrency", "0")
    assert result.returncode != 0 and "--concurrency" in result.stderr
    assert "Traceback" not in result.stderr


def test_max_time_stops_an_idle_worker(queue):
    started = time.monotonic()
    result = artisan("queue:work", "--max-time", "1", "--sleep", "0.2", "--quiet")
    assert result.returncode == 0
    assert time.monotonic() - started < 15
    assert "max time" in result.stderr


def test_memory_limit_stops_after_a_job(queue, engine):
    dispatch(Record("m1"))
    dispatch(Record("m2"))
    result = artisan("queue:work", "--memory", "1", "--sleep", "0.2", "--quiet")
    assert result.returncode == 0 and "memory limit" in result.stderr
    assert count(engine, "SELECT count(*) FROM jobs") == 1


def test_poll_only_worker_finds_jobs_without_listen(queue, engine):
    proc = start_worker("--sleep", "0.3", "--quiet", env={"QUEUE_LISTEN": "false"})
    try:
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM workers") == 1, 20)
        dispatch(Record("polled"))
        assert wait_for(lambda: ("polled", "end") in ledger(engine), 10)
        with engine.connect() as conn:
            listening = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN skiplock' "
                "AND datname = current_database()")).scalar_one()
        assert listening == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def test_concurrency_runs_jobs_side_by_side(queue, engine):
    for i in range(4):
        dispatch(Record(f"c{i}", 1.0))
    assert work("--concurrency", "4", "--quiet").returncode == 0
    with engine.connect() as conn:
        last_start, first_end = conn.execute(sa.text(
            "SELECT max(at) FILTER (WHERE event = 'start'), min(at) FILTER (WHERE event = 'end') "
            "FROM ledger")).one()
    assert last_start < first_end  # all four ran at once, not one after another


class StderrLines:
    """A worker's stderr, read as it comes (a thread), so a test can time a line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stderr is not None
        self._reader = threading.Thread(target=self.lines.extend, args=(proc.stderr,),
                                        daemon=True)
        self._reader.start()

    def with_text(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]


def start_in_a_terminal(*args: str) -> subprocess.Popen[str]:
    """A worker that gets Ctrl-C (SIGINT) as a foreground process in a terminal does."""
    return subprocess.Popen(
        [sys.executable, "artisan.py", "queue:work", "--sleep", "0.2", "--max-time", "60",
         *args], cwd=ROOT, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        preexec_fn=ctrl_c_as_in_a_terminal)


def test_ctrl_c_says_at_once_what_the_worker_waits_for(queue, engine):
    dispatch(Record("slow", 8))
    dispatch(Record("other", 8))
    proc = start_in_a_terminal("--concurrency", "2")
    err = StderrLines(proc)
    try:
        assert wait_for(lambda: ("other", "start") in ledger(engine), 20)
        proc.send_signal(signal.SIGINT)
        assert wait_for(lambda: err.with_text("waiting for"), 1.0, interval=0.01), err.lines
        line = err.with_text("waiting for")[0]
        assert "2 running jobs" in line and "Record x2" in line
        assert "Ctrl-C again to quit now" in line
        assert proc.poll() is None  # the first Ctrl-C waits for the jobs
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def test_second_ctrl_c_quits_now_and_gives_the_job_back(queue, engine):
    dispatch(Record("slow", 30))
    proc = start_in_a_terminal()
    err = StderrLines(proc)
    assert wait_for(lambda: ("slow", "start") in ledger(engine), 20)
    proc.send_signal(signal.SIGINT)
    assert wait_for(lambda: err.with_text("waiting for"), 5, interval=0.01), err.lines
    proc.send_signal(signal.SIGINT)
    assert proc.wait(5) == 130
    assert ("slow", "end") not in ledger(engine)
    with engine.connect() as conn:
        job = conn.execute(sa.text("SELECT reserved_at, attempts, last_error FROM jobs")).one()
        worker = conn.execute(sa.text("SELECT stopped_at, exit_reason FROM workers")).one()
    # Back at once, not after QUEUE_RETRY_AFTER; the interrupted attempt counts.
    assert job.reserved_at is None and job.attempts == 1
    assert "interrupted" in job.last_error
    assert worker.stopped_at is not None and worker.exit_reason == "interrupted"
    assert wait_for(lambda: err.with_text("gave back 1 job"), 2), err.lines


def test_stop_when_empty_on_a_paused_queue_says_it_is_paused(queue, engine):
    assert artisan("queue:pause", "default").returncode == 0
    dispatch(Record("p1"))
    dispatch(Record("p2"))
    result = work("--quiet")
    assert result.returncode == 0, result.stderr
    assert "stopped: queues paused" in result.stderr
    assert "paused with jobs waiting: default (2)" in result.stderr
    assert "queue empty" not in result.stderr
    assert artisan("queue:resume", "default").returncode == 0
    result = work("--quiet")
    assert "stopped: queue empty" in result.stderr
    assert ("p2", "end") in ledger(engine)


def test_rest_pauses_between_jobs(queue, engine):
    dispatch(Record("r1"))
    dispatch(Record("r2"))
    assert work("--rest", "1", "--quiet").returncode == 0
    with engine.connect() as conn:
        gap = conn.execute(sa.text(
            "SELECT extract(epoch FROM max(at) FILTER (WHERE tag = 'r2' AND event = 'start') "
            "- max(at) FILTER (WHERE tag = 'r1' AND event = 'end')) FROM ledger")).scalar_one()
    assert float(gap) >= 0.9


