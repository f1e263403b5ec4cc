"""queue:bench end to end, small: every figure measured, checked, and nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from app.queue import dispatch
from tests.jobs.basic import Record
from tests.support import ROOT, artisan, count, ctrl_c_as_in_a_terminal

BENCH_ROWS = {
    "jobs": "SELECT count(*) FROM jobs WHERE queue LIKE 'bench-%'",
    "failed_jobs": "SELECT count(*) FROM failed_jobs WHERE queue LIKE 'bench-%'",
    "workers": "SELECT count(*) FROM workers WHERE name LIKE 'bench-%'",
    "paused_queues": "SELECT count(*) FROM paused_queues WHERE queue LIKE 'bench-%'",
    "job_limits": "SELECT count(*) FROM job_limits WHERE key LIKE 'rate:bench-%'",
}


def bench_rows(engine) -> dict[str, int]:
    return {table: count(engine, sql) for table, sql in BENCH_ROWS.items()}


def test_bench_measures_every_figure_and_leaves_the_database_as_it_was(queue, engine):
    job_id = dispatch(Record("untouched"), queue="real")
    result = artisan("queue:bench", "--jobs", "300", "--workers", "1", "--latency-jobs", "20",
                     "--backlog", "--backlog-rows", "20000", "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)

    for name in ("enqueue", "enqueue_bulk", "drain"):
        assert figures[name]["jobs"] == 300
        assert figures[name]["jobs_per_s"] > 0
        assert figures[name]["seconds"] > 0
    latency = figures["latency"]
    assert latency["jobs"] == 20
    assert 0 < latency["median_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    backlog = figures["backlog"]
    assert backlog["small"]["waiting_rows"] == 10_000
    assert backlog["large"]["waiting_rows"] == 20_000
    assert backlog["small"]["jobs_per_s"] > 0 and backlog["large"]["jobs_per_s"] > 0
    assert backlog["ratio"] > 0
    assert figures["settings"]["queue"].startswith("bench-")
    assert figures["database"]["version"]

    assert bench_rows(engine) == dict.fromkeys(BENCH_ROWS, 0)
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id AND queue = 'real'",
                 id=job_id) == 1


def test_bench_middleware_figures_hold_the_rate_and_leave_nothing_behind(queue, engine):
    result = artisan("queue:bench", "--jobs", "300", "--latency-jobs", "5", "--middleware",
                     "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)["middleware"]
    noop = figures["noop_drain"]
    assert noop["jobs"] == 300 and noop["jobs_per_s"] > 0 and noop["of_plain"] > 0
    rate = figures["rate_limited"]
    # The sliding window never lets more start than the limit allows in the window.
    assert 0 < rate["started"] <= rate["limit"] * rate["seconds"] / rate["per_s"]
    assert 0 < rate["accuracy"] <= 1.0
    assert rate["first_half"]["claims_per_s"] > 0


WORKLOAD_FIGURES = ("drain_async,default_worker,io_async,io_threads,dispatchers,payload,"
                    "latency_load,churn")


def test_bench_measures_the_workload_figures_and_leaves_the_database_as_it_was(queue, engine):
    result = artisan("queue:bench", "--figures", WORKLOAD_FIGURES, "--jobs", "200",
                     "--dispatchers", "3", "--dispatcher-jobs", "40", "--churn-jobs", "400",
                     "--latency-jobs", "10", "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)

    assert figures["enqueue"] is None and figures["drain"] is None  # not chosen
    for concurrency in ("c10", "c50"):
        pair = figures["drain_async"][concurrency]
        assert pair["plain"]["jobs"] == pair["async"]["jobs"] == 200
        assert pair["async"]["worker_settings"]["concurrency"] == int(concurrency[1:])
        assert pair["ratio"] > 0
    for processes in ("w1", "w2"):
        run = figures["default_worker"][processes]
        assert run["jobs"] == 200 and run["worker_settings"]["concurrency"] is None
        assert run["worker_settings"]["processes"] == int(processes[1:])
    assert figures["io_async"]["ideal_jobs_per_s"] == 10_000
    assert figures["io_threads"]["ideal_jobs_per_s"] == 4_000
    # 200 jobs waiting 50 ms each on 200 or 500 slots: one wave, so at least the wait.
    assert figures["io_threads"]["seconds"] >= 0.05 and figures["io_async"]["seconds"] >= 0.05
    assert figures["dispatchers"]["jobs"] == 120 and figures["dispatchers"]["processes"] == 3
    assert figures["payload"]["payload_bytes"] == 10_240 and figures["payload"]["ratio"] > 0
    load = figures["latency_load"]
    assert load["jobs"] == 10 and load["load_jobs_per_s"] > 0
    assert 0 < load["median_ms"] <= load["p99_ms"] <= load["max_ms"]
    churn = figures["churn"]
    assert [r["jobs"] for r in churn["rounds"]] == [200, 200]
    assert churn["rounds"][-1]["dead_rows"] >= 0 and churn["rounds"][0]["claim_pages"] >= 1
    assert 0 < churn["memory"]["idle_mb"] <= churn["memory"]["end_mb"]
    assert bench_rows(engine) == dict.fromkeys(BENCH_ROWS, 0)


def test_bench_prints_a_table(queue):
    result = artisan("queue:bench", "--jobs", "50", "--latency-jobs", "5", timeout=60)
    assert result.returncode == 0, result.stderr
    for label in ("enqueue", "bulk enqueue", "drain", "latency", "jobs/s", " ms"):
        assert label in result.stdout


@pytest.mark.parametrize("option, value", [("--jobs", "0"), ("--workers", "0"),
                                           ("--concurrency", "-1"), ("--latency-jobs", "0"),
                                           ("--backlog-rows", "100"), ("--timeout", "0"),
                                           ("--figures", "drain,nonsense"), ("--figures", ","),
                                           ("--churn-jobs", "1"), ("--dispatchers", "0")])
def test_bad_options_are_one_line(option, value):
    result = artisan("queue:bench", option, value)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and option in lines[0], result.stderr
    assert result.stdout == ""


def test_ctrl_c_stops_the_workers_and_removes_the_scratch_queue(queue, engine):
    bench = subprocess.Popen(
        [sys.executable, "artisan.py", "queue:bench", "--jobs", "200", "--latency-jobs", "20",
         "--json"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ), preexec_fn=ctrl_c_as_in_a_terminal)
    try:
        pids = wait_for_live_workers(engine, bench)
        bench.send_signal(signal.SIGINT)
        _, stderr = bench.communicate(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 130, stderr
    assert "interrupted" in stderr
    assert bench_rows(engine) == dict.fromkeys(BENCH_ROWS, 0)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def wait_for_live_workers(engine, bench: subprocess.Popen[str]) -> list[int]:
    """The pids of the bench's running workers, as soon as there are some."""
    import sqlalchemy as sa

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert bench.poll() is None, bench.communicate()
        with engine.connect() as conn:
            pids = conn.execute(sa.text(
                "SELECT pid FROM workers WHERE name LIKE 'bench-%' AND stopped_at IS NULL"
            )).scalars().all()
        if pids:
            return list(pids)
        time.sleep(0.02)
    raise AssertionError("the bench never started a worker")
