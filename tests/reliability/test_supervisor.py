"""`supervise` with real `queue:work` children (SPEC §16): balancing toward the work, restarts,
graceful stops, no orphans, control from another process; every job checked in the ledger."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.queue import dispatch, dispatch_many
from tests.jobs.basic import Record
from tests.jobs.reliability import ExitsProcessEveryTry
from tests.reliability.support import ledger_runs, wait_for
from tests.support import ROOT, artisan, count

BACKSTOP = 240
"""max_time of every child: a test killed half-way leaves nothing running for long."""


class Supervise:
    """`python artisan.py supervise` with QUEUE_SUPERVISORS, its output in files."""

    def __init__(self, tmp: Path, supervisors: dict, env: dict[str, str] | None = None) -> None:
        for settings in supervisors.values():
            settings.setdefault("max_time", BACKSTOP)
            settings.setdefault("sleep", 0.2)
        self.out_path, self.err_path = tmp / "supervise.out", tmp / "supervise.err"
        self.proc = subprocess.Popen(
            [sys.executable, "artisan.py", "supervise"], cwd=ROOT,
            stdout=self.out_path.open("w"), stderr=self.err_path.open("w"),
            env={**os.environ, "QUEUE_SUPERVISORS": json.dumps(supervisors),
                 **(env or {})})

    def log(self) -> str:
        return self.err_path.read_text()

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # its children get SIGTERM from the kernel (PR_SET_PDEATHSIG)
            self.proc.wait()


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator:
    started: list[Supervise] = []

    def start(supervisors: dict, env: dict[str, str] | None = None) -> Supervise:
        started.append(Supervise(tmp_path, supervisors, env))
        return started[-1]

    yield start
    for one in started:
        one.close()


def processes(engine: sa.Engine) -> dict[str, int]:
    """The running supervisor's processes per pool, as its last tick wrote them."""
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT processes FROM supervisors "
                                   "WHERE stopped_at IS NULL")).first()
    return dict(row[0]) if row else {}


def child_pids(engine: sa.Engine, name: str = "main") -> dict[str, int]:
    """Live children by worker name (`main-1` …), from their own heartbeat rows."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT name, pid FROM workers WHERE stopped_at IS NULL AND name LIKE :prefix"),
            {"prefix": f"{name}-%"}).all())


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    return state != "Z"


def on_queue(job: Record, name: str) -> Record:
    job.queue = name  # an instance's own queue (app/queue/job.py)
    return job


def live_rows(engine: sa.Engine) -> int:
    return count(engine, "SELECT count(*) FROM workers WHERE stopped_at IS NULL")


def all_completed(engine: sa.Engine, tags: set[str]) -> None:
    runs = ledger_runs(engine)
    assert set(runs) == tags, f"never started: {sorted(tags - set(runs))}"
    for tag, job_runs in runs.items():
        assert job_runs[-1].end is not None, f"job {tag} never completed: {job_runs}"
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0


def test_auto_balance_moves_processes_to_the_flooded_queue_and_back(queue, engine, supervise):
    sup = supervise({"main": {"queues": ["a", "b"], "balance": "auto", "min_processes": 1,
                              "max_processes": 4, "balance_max_shift": 1,
                              "balance_cooldown": 1, "auto_scaling_strategy": "size"}})
    assert wait_for(lambda: processes(engine) == {"a": 1, "b": 1}, 30), sup.log()
    tags = {f"a{n}" for n in range(300)}
    dispatch_many(on_queue(Record(tag, 0.05), "a") for tag in sorted(tags))
    seen, most_rows = [], 0
    deadline = time.monotonic() + 60
    while count(engine, "SELECT count(*) FROM jobs") and time.monotonic() < deadline:
        seen.append(processes(engine))
        most_rows = max(most_rows, live_rows(engine))
        time.sleep(0.05)
    assert {"a": 3, "b": 1} in seen, f"never reached a: 3 (max 4, b keeps 1): {seen[-20:]}"
    assert all(sum(s.values()) <= 4 and s.get("b", 0) >= 1 for s in seen), seen
    assert most_rows <= 4, f"{most_rows} live workers at once, above max_processes"
    # One process back per cooldown once the queue is empty.
    assert wait_for(lambda: processes(engine) == {"a": 1, "b": 1}, 15), processes(engine)
    all_completed(engine, tags)
    sup.proc.send_signal(signal.SIGTERM)
    assert sup.wait(30) == 0, sup.log()


def test_a_child_killed_mid_job_is_restarted_and_its_job_reclaimed(queue, engine, supervise):
    sup = supervise({"main": {"queues": ["default"], "balance": "simple", "processes": 2}},
                    env={"QUEUE_RETRY_AFTER": "2"})
    assert wait_for(lambda: len(child_pids(engine)) == 2, 30), sup.log()
    tags = {f"j{n}" for n in range(8)}
    dispatch_many(Record(tag, 1.0) for tag in sorted(tags))
    assert wait_for(lambda: count(engine, "SELECT count(*) FROM ledger "
                                         "WHERE event = 'start'") >= 1, 30)
    with engine.connect() as conn:
        victim = conn.execute(sa.text("SELECT pid FROM ledger WHERE event = 'start' "
                                      "ORDER BY id LIMIT 1")).scalar_one()
    before = set(child_pids(engine).values())
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: len(set(child_pids(engine).values()) - before) >= 1, 30), sup.log()
    assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 60), sup.log()
    all_completed(engine, tags)
    for job_runs in ledger_runs(engine).values():
        assert all(run.worker == str(victim) for run in job_runs[:-1]), job_runs
    assert "was killed by signal 9: restarting in 1s" in sup.log()
    assert len(child_pids(engine)) == 2
    sup.proc.send_signal(signal.SIGTERM)
    assert sup.wait(30) == 0, sup.log()


def test_sigterm_lets_running_jobs_finish_exits_0_and_leaves_no_orphan(queue, engine,
                                                                        supervise):
    sup = supervise({"main": {"queues": ["default"], "balance": "off", "processes": 2}})
    assert wait_for(lambda: len(child_pids(engine)) == 2, 30), sup.log()
    children = set(child_pids(engine).values())
    dispatch_many(Record(f"t{n}", 2.0) for n in range(6))
    assert wait_for(lambda: count(engine, "SELECT count(*) FROM ledger "
                                         "WHERE event = 'start'") == 2, 30)
    sup.proc.send_signal(signal.SIGTERM)
    assert sup.wait(30) == 0, sup.log()
    runs = ledger_runs(engine)
    assert len(runs) == 2 and all(r[-1].end is not None for r in runs.values()), runs
    # The other four were never claimed, or given back: pending, none reserved.
    assert count(engine, "SELECT count(*) FROM jobs WHERE reserved_at IS NULL") == 4
    assert not [pid for pid in children if is_alive(pid)]
    assert live_rows(engine) == 0
    assert count(engine, "SELECT count(*) FROM supervisors WHERE state = 'stopped'") == 1


def test_the_children_of_a_sigkilled_supervisor_exit_with_it(queue, engine, supervise):
    sup = supervise({"main": {"queues": ["default"], "balance": "off", "processes": 2}})
    assert wait_for(lambda: len(child_pids(engine)) == 2, 30), sup.log()
    children = set(child_pids(engine).values())
    sup.proc.kill()
    sup.proc.wait()
    assert wait_for(lambda: not [pid for pid in children if is_alive(pid)], 15), children


def test_supervise_terminate_from_another_process_stops_it_gracefully(queue, engine,
                                                                      supervise):
    sup = supervise({"main": {"queues": ["default"], "processes": 1, "max_processes": 1}})
    assert wait_for(lambda: len(child_pids(engine)) == 1, 30), sup.log()
    dispatch(Record("long", 1.5))
    assert wait_for(lambda: count(engine, "SELECT count(*) FROM ledger") == 1, 30)
    done = artisan("supervise:terminate")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Terminating main on {os.uname().nodename} (pid "
                                  f"{sup.proc.pid}).")
    assert sup.wait(30) == 0, sup.log()
    assert ledger_runs(engine)["long"][-1].end is not None
    status = json.loads(artisan("supervise:status", "--json").stdout)["supervisors"]
    assert [(s["name"], s["state"], s["processes"]) for s in status] == [("main", "stopped", {})]
    assert artisan("supervise:terminate").stdout == "No running supervisors.\n"


def test_pause_stops_the_processes_and_continue_starts_them_again(queue, engine, supervise):
    sup = supervise({"main": {"queues": ["default"], "balance": "simple", "processes": 1}})
    assert wait_for(lambda: len(child_pids(engine)) == 1, 30), sup.log()
    assert artisan("supervise:pause").returncode == 0
    assert wait_for(lambda: not child_pids(engine) and processes(engine) == {"default": 0}, 30)
    status = json.loads(artisan("supervise:status", "--json").stdout)["supervisors"]
    assert [(s["state"], s["host"], s["pid"]) for s in status] == [
        ("paused", os.uname().nodename, sup.proc.pid)]
    dispatch(Record("after-pause"))
    time.sleep(1.5)
    assert count(engine, "SELECT count(*) FROM ledger") == 0, "a paused supervisor ran a job"
    assert artisan("supervise:continue").returncode == 0
    assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 30), sup.log()
    all_completed(engine, {"after-pause"})
    sup.proc.send_signal(signal.SIGTERM)
    assert sup.wait(30) == 0, sup.log()


def test_a_child_that_exits_for_max_jobs_is_replaced_without_backoff(queue, engine, supervise):
    sup = supervise({"main": {"queues": ["default"], "balance": "off", "processes": 1,
                              "max_jobs": 3}})
    tags = {f"m{n}" for n in range(10)}
    dispatch_many(Record(tag) for tag in sorted(tags))
    assert wait_for(lambda: count(engine, "SELECT count(*) FROM jobs") == 0, 60), sup.log()
    all_completed(engine, tags)
    assert len({run.worker for r in ledger_runs(engine).values() for run in r}) >= 4
    assert "exited (max jobs, max time, memory or queue:restart): replaced" in sup.log()
    assert "restarting in" not in sup.log()
    sup.proc.send_signal(signal.SIGTERM)
    assert sup.wait(30) == 0, sup.log()


def test_a_crash_loop_backs_off_and_logs_one_line_a_minute(queue, engine, supervise):
    sup = supervise({"main": {"queues": ["default"], "balance": "off", "processes": 1}},
                    env={"QUEUE_RETRY_AFTER": "1"})
    dispatch(ExitsProcessEveryTry("x"))  # every child that takes it dies
    assert wait_for(lambda: count(engine, "SELECT count(*) FROM ledger "
                                         "WHERE event = 'start'") >= 4, 60), sup.log()
    with engine.connect() as conn:
        starts = list(conn.execute(sa.text(
            "SELECT extract(epoch FROM at) FROM ledger WHERE event = 'start' ORDER BY id"
        )).scalars())
    gaps = [float(b - a) for a, b in itertools.pairwise(starts)]
    # Restarts 1, 2, 4 s apart (plus each child's start-up), not as fast as it can crash.
    assert gaps[0] >= 1 and gaps[1] >= 2 and gaps[2] >= 4, gaps
    crash_lines = [line for line in sup.log().splitlines() if "exited with code 17" in line]
    assert len(crash_lines) == 1, sup.log()
    assert crash_lines[0].endswith("main-1 (queue default) exited with code 17: restarting in 1s")
    sup.proc.send_signal(signal.SIGTERM)
    assert sup.wait(30) == 0, sup.log()
