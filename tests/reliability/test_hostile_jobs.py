"""Jobs that attack the worker's process rather than fail: whatever a job does to hooks,
threads, forks, stdout or the tables, the worker goes on or stops when told, and every job's
outcome is recorded once. Every wait is bounded: a worker that hangs fails the test in seconds."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.queue import dispatch
from tests.jobs.basic import Aborts, Record
from tests.jobs.hostile import (
    ClosesStdout,
    Forks,
    ForksASleeper,
    HookNeverReturns,
    HookSpins,
    LeavesAThread,
    PrintsALot,
    RegistersAtexit,
)
from tests.support import ROOT, artisan, count, ledger, start_worker, wait_for, work

DONE_LINE = r"(?m)^  \S+ \S+ {name} \S+ [\d.,]+ms DONE$"
"""A job line as the worker prints it, whole, on a line of its own."""


def start_in_own_group(*args: str) -> subprocess.Popen[str]:
    """A worker leading a process group of its own, as a supervisor starts one."""
    return subprocess.Popen(
        [sys.executable, "artisan.py", "queue:work", "--sleep", "0.2", "--max-time", "60",
         *args], cwd=ROOT, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def stop(proc: subprocess.Popen[str], timeout: float) -> int:
    """SIGTERM, then the exit code; SIGKILL (and fail) if it does not exit within `timeout`."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the worker did not exit within {timeout:g}s of SIGTERM")


# ---------------------------------------------------------------------- failed() hooks


def test_sigterm_stops_a_worker_whose_failed_hook_never_returns(queue, engine):
    dispatch(HookNeverReturns("h"))
    proc = start_worker("--sleep", "0.2", "--quiet")
    try:
        assert wait_for(lambda: ("h", "hook start") in ledger(engine), 20)
        started = time.monotonic()
        # The hook gets the job's timeout (2 s) and the grace of a stuck job (2 s).
        assert stop(proc, timeout=10) == 0
        assert time.monotonic() - started < 8
    finally:
        proc.kill()
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1


def test_max_time_stops_a_worker_whose_failed_hook_never_returns(queue, engine):
    dispatch(HookNeverReturns("h"))
    started = time.monotonic()
    result = artisan("queue:work", "--max-time", "1", "--sleep", "0.2", "--quiet", timeout=15)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 12
    assert "stopped: max time" in result.stderr
    assert ("h", "hook start") in ledger(engine)


def test_a_failed_hook_past_its_timeout_is_interrupted_and_the_worker_goes_on(queue, engine):
    dispatch(HookSpins("h"))
    dispatch(Record("next"))
    result = work("--quiet", timeout=30)
    assert result.returncode == 0, result.stderr
    assert ("next", "end") in ledger(engine)
    assert "HookSpins.failed() ran past its timeout of 2s" in result.stderr
    with engine.connect() as conn:
        text = conn.execute(sa.text("SELECT exception FROM failed_jobs")).scalar_one()
    assert "The job's failed() hook ran past its timeout of 2s" in text


def test_a_stuck_failed_hook_restarts_the_worker_in_place(queue, engine):
    dispatch(HookNeverReturns("h"))
    proc = start_worker("--sleep", "0.2")
    try:
        assert wait_for(lambda: ("h", "hook start") in ledger(engine), 20)
        with engine.connect() as conn:
            started_at = conn.execute(sa.text("SELECT started_at FROM workers")).scalar_one()
        # After the hook's timeout and grace, a fresh process (same pid) registers again.
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM workers WHERE started_at "
                                              "> :t", t=started_at) == 1, 15)
        assert proc.poll() is None
        dispatch(Record("after"))
        assert wait_for(lambda: ("after", "end") in ledger(engine), 10)
    finally:
        assert stop(proc, timeout=10) == 0
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1


# ------------------------------------------------------------------ threads and forks


def test_a_thread_left_by_a_job_does_not_keep_the_worker_alive(queue, engine, tmp_path):
    dispatch(LeavesAThread("t"))
    dispatch(RegistersAtexit(str(tmp_path / "atexit-ran")))
    result = work("--quiet", timeout=15)
    assert result.returncode == 0, result.stderr
    assert "stopped: queue empty" in result.stderr
    assert ("t", "end") in ledger(engine)
    assert (tmp_path / "atexit-ran").exists()  # the exit skips the wait, not the handlers


def test_a_forked_child_never_runs_the_worker_and_dies_with_its_group(queue, engine):
    dispatch(Forks("f"))
    proc = start_in_own_group()
    try:
        assert wait_for(lambda: ("f", "end") in ledger(engine), 20)
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 10)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0, proc.stderr.read() if proc.stderr else ""
        assert wait_for(lambda: not group_members(proc.pid), 5), group_members(proc.pid)
    finally:
        with_group_killed(proc)
    assert ledger(engine) == [("f", "end")]
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0
    assert count(engine, "SELECT count(*) FROM workers WHERE stopped_at IS NOT NULL") == 1


def test_sigterm_to_the_group_ends_a_sleeping_child_of_a_job(queue, engine):
    dispatch(ForksASleeper("s"))
    proc = start_in_own_group()
    try:
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0
                        and ("s", "end") in ledger(engine), 20)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0
        assert wait_for(lambda: not group_members(proc.pid), 5), group_members(proc.pid)
    finally:
        with_group_killed(proc)
    assert ledger(engine) == [("s", "end")]


def with_group_killed(proc: subprocess.Popen[str]) -> None:
    """Whatever the test found, leave no process of the group behind."""
    for pid in group_members(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


# -------------------------------------------------------------------- refused writes


def test_an_outcome_the_database_refuses_is_kept_and_written_once_it_can_be(queue, engine):
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE failed_jobs RENAME TO failed_jobs_away"))
    proc = start_worker("--sleep", "0.2", "--quiet")
    try:
        try:
            dispatch(Aborts("bad"))
            dispatch(Record("good"))
            assert wait_for(lambda: ("good", "end") in ledger(engine), 20)
            # The failed job stays reserved by the live worker: nobody runs it again
            # meanwhile. (The done one is deleted by the worker's next claim, which may come
            # a few ms after its end is in the ledger.)
            assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 1, 5)
            time.sleep(0.5)  # several retries of the refused write later, still held
            assert count(engine, "SELECT count(*) FROM jobs WHERE reserved_at IS NOT NULL "
                                 "AND attempts = 1") == 1
            assert proc.poll() is None
        finally:
            with engine.begin() as conn:
                conn.execute(sa.text("ALTER TABLE IF EXISTS failed_jobs_away "
                                     "RENAME TO failed_jobs"))
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM failed_jobs") == 1, 20)
        assert count(engine, "SELECT count(*) FROM jobs") == 0
        assert proc.poll() is None
        dispatch(Record("later"))
        assert wait_for(lambda: ("later", "end") in ledger(engine), 10)
    finally:
        # Stopped however the test ends: a worker left running would take the jobs of the
        # tests after it.
        assert stop(proc, timeout=10) == 0
    err = proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in err
    refused = [line for line in err.splitlines() if "cannot record the outcome" in line]
    assert '"failed_jobs" does not exist' in refused[0]  # says which table is missing
    assert len(refused) == 1, err  # logged once, not once per retry
    assert [tag for tag, event in ledger(engine) if event == "start"] == ["bad", "good",
                                                                         "later"]


# --------------------------------------------------------------------------- options


def test_concurrency_past_the_limit_is_a_one_line_error(queue):
    started = time.monotonic()
    result = artisan("queue:work", "--concurrency", "100000", timeout=20)
    assert result.returncode == 2
    assert time.monotonic() - started < 10
    assert "Traceback" not in result.stderr
    assert "--concurrency" in result.stderr and "1,000" in result.stderr
    configured = artisan("queue:work", env={"JOB_WORKER_CONCURRENCY": "5000"}, timeout=20)
    assert configured.returncode == 2 and "JOB_WORKER_CONCURRENCY" in configured.stderr


# ---------------------------------------------------------------------------- stdout


@pytest.mark.parametrize("how", ["object", "fd"])
def test_a_job_that_closes_stdout_leaves_the_worker_its_own_lines(queue, engine, how):
    dispatch(ClosesStdout("c", how))
    dispatch(Record("after"))
    result = work(timeout=20)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert ("after", "end") in ledger(engine)
    assert re.search(DONE_LINE.format(name="ClosesStdout"), result.stdout), result.stdout
    assert re.search(DONE_LINE.format(name="Record"), result.stdout), result.stdout
    assert "stopped: queue empty" in result.stderr


def test_a_job_that_prints_10_mb_leaves_the_worker_lines_intact(queue, engine):
    dispatch(PrintsALot("p", 10))
    for i in range(3):
        dispatch(Record(f"r{i}"))
    result = work(timeout=30)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) >= 10 * 1024 * 1024
    assert re.search(DONE_LINE.format(name="PrintsALot"), result.stdout)
    assert len(re.findall(DONE_LINE.format(name="Record"), result.stdout)) == 3
    assert "stopped: queue empty" in result.stderr
