"""Events fired by dispatch and by a worker process, to listeners that a providers module
registered in boot(); and `queue:work --json`."""

from __future__ import annotations

import json

import pytest

from app.bootstrap import make_context
from app.queue import context, dispatch
from tests.jobs.basic import FailTimes, Record
from tests.support import artisan, ledger, work

PROVIDERS = {"APP_PROVIDERS": "tests.jobs.providers"}


def test_a_worker_fires_job_and_worker_events_to_listeners_from_providers(queue, engine):
    dispatch(Record("ok"))
    dispatch(FailTimes("flaky", 1))
    result = artisan("queue:work", "--stop-when-empty", "--sleep", "0.2", env=PROVIDERS)
    assert result.returncode == 0, result.stderr
    assert ledger(engine, "ok") == [
        ("ok", "JobProcessing default attempt=1"), ("ok", "start"), ("ok", "end"),
        ("ok", "JobProcessed default attempt=1")]
    flaky = [event for _tag, event in ledger(engine, "flaky") if event.startswith("Job")]
    assert flaky == [
        "JobProcessing default attempt=1",
        "JobExceptionOccurred default attempt=1 error=RuntimeError: planned failure 1",
        "JobReleased default attempt=1 error=RuntimeError: planned failure 1",
        "JobProcessing default attempt=2",
        "JobProcessed default attempt=2"]
    assert ledger(engine, "worker") == [("worker", "WorkerStarting default"),
                                        ("worker", "WorkerStopping default")]
    # The raising listener: one line each time, and the jobs' outcomes are as without it.
    broken = [line for line in result.stderr.splitlines() if "this listener is broken" in line]
    assert len(broken) == 2
    assert all("broken of JobProcessed raised RuntimeError" in line for line in broken)
    assert "Traceback" not in result.stderr


def test_a_failed_job_fires_job_failed_with_its_error(queue, engine):
    dispatch(FailTimes("doomed", 9))  # tries = 5
    result = artisan("queue:work", "--stop-when-empty", "--sleep", "0.2", env=PROVIDERS)
    assert result.returncode == 0, result.stderr
    events = [event for _tag, event in ledger(engine, "doomed") if event.startswith("JobF")]
    assert events == ["JobFailed default attempt=5 error=RuntimeError: planned failure 5"]


def test_dispatch_fires_job_queued_in_the_dispatching_process(queue, engine, monkeypatch):
    monkeypatch.setattr("app.bootstrap._booted", False)
    monkeypatch.setenv("APP_PROVIDERS", "tests.jobs.providers")
    from app.queue import events

    try:
        context.use(make_context())
        dispatch(Record("queued"), queue="mail")
    finally:
        events.forget_all()
    assert ledger(engine, "queued") == [("queued", "JobQueued mail attempt=0")]


@pytest.mark.parametrize("extra", [(), ("--concurrency", "2")])
def test_work_json_prints_one_json_object_per_job_event_and_nothing_else(queue, extra):
    first = dispatch(Record("a"))
    second = dispatch(FailTimes("b", 1))
    result = work("--json", *extra)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(line) == {"time", "event", "job_id", "class", "queue", "attempt",
                             "status", "duration", "error"} for line in lines)
    seen = [(line["job_id"], line["event"], line["attempt"]) for line in lines]
    for expected in [(first, "JobProcessing", 1), (first, "JobProcessed", 1),
                     (second, "JobReleased", 1), (second, "JobProcessed", 2)]:
        assert expected in seen
    released = next(line for line in lines if line["event"] == "JobReleased")
    assert released["error"] == "RuntimeError: planned failure 1"
    assert released["duration"] >= 0 and released["class"] == "FailTimes"
    assert "stopped: queue empty" in result.stderr

