"""What leaves the console is text: terminal escapes in stored errors are shown escaped by
every command and by the worker's lines; what a job prints stays in whole lines, and
`queue:work --json` keeps stdout pure JSON. Through the real `python artisan.py`."""

from __future__ import annotations

import json
import re

from app.queue import dispatch
from tests.cli.support import insert_failed
from tests.jobs.basic import Record
from tests.jobs.console_output import HOSTILE, PrintsPieces, RaisesHostile
from tests.support import artisan, work

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Any control character but newline and tab: none may reach the terminal (a piped rich
console writes no colour codes, so not even an ESC of its own)."""
SHOWN = "\\x1b]0;owned\\x07"


def assert_printable(text: str) -> None:
    found = CONTROL.search(text)
    assert found is None, f"{found.group()!r} at {found.start()}: {text[found.start() - 40:]!r}"


# ------------------------------------------------------------------------------ escapes


def test_worker_lines_and_job_logs_show_escapes_escaped(queue):
    dispatch(RaisesHostile("boom"))
    result = work()
    assert result.returncode == 0, result.stderr
    assert_printable(result.stdout)
    assert_printable(result.stderr)
    fail_line = next(line for line in result.stdout.splitlines() if "FAIL" in line)
    assert SHOWN in fail_line and "\\u202eevil" in fail_line
    assert SHOWN in next(line for line in result.stderr.splitlines() if "about to fail" in line)


def test_every_command_shows_a_stored_error_escaped(queue, engine):
    failed = insert_failed(engine, exception=f"RuntimeError: {HOSTILE}\n",
                           job_class=f"tests.jobs.{HOSTILE}", queue="mail")
    for columns in ("80", "200"):
        listing = artisan("queue:failed", env={"COLUMNS": columns})
        assert listing.returncode == 0, listing.stderr
        assert_printable(listing.stdout)
        assert SHOWN in listing.stdout.replace("\n", "").replace(" ", "")
    shown = artisan("queue:job", failed, env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    assert_printable(shown.stdout)
    assert SHOWN in shown.stdout
    as_json = artisan("queue:failed", "--json")
    assert_printable(as_json.stdout)
    assert json.loads(as_json.stdout)["failed_jobs"][0]["error"] == f"RuntimeError: {HOSTILE}"


def test_an_error_line_shows_the_argument_escaped(queue):
    result = artisan("queue:job", f"id{HOSTILE}")
    assert result.returncode == 1
    assert_printable(result.stderr)
    assert len(result.stderr.splitlines()) == 1 and SHOWN in result.stderr


# --------------------------------------------------------------------------- job output

JOB_LINE = re.compile(r"^(a|b) (line \d+: half and half|from a child|unfinished)$")
WORKER_LINE = re.compile(r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \S+ .*(RUNNING|DONE|FAIL)")


def test_queue_work_json_keeps_stdout_pure_json_and_job_output_on_stderr(queue):
    dispatch(PrintsPieces("a"))
    dispatch(PrintsPieces("b"))
    dispatch(Record("r"))
    result = work("--json", "--concurrency", "2")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum(event["event"] == "JobProcessed" for event in events) == 3
    printed = [line for line in result.stderr.splitlines() if JOB_LINE.match(line)]
    for tag in ("a", "b"):
        assert [line for line in printed if line.startswith(tag)] == [
            *(f"{tag} line {i}: half and half" for i in range(5)),
            f"{tag} from a child", f"{tag} unfinished"]


def test_job_output_and_worker_lines_stay_whole_when_piped(queue):
    dispatch(PrintsPieces("a", lines=20))
    dispatch(PrintsPieces("b", lines=20))
    for i in range(20):
        dispatch(Record(f"r{i}", seconds=0.01))
    result = work("--concurrency", "3")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    torn = [line for line in lines if not (JOB_LINE.match(line) or WORKER_LINE.match(line)
                                           or "Processing jobs from" in line)]
    assert torn == []
    assert sum(bool(JOB_LINE.match(line)) for line in lines) == 2 * 22
    assert sum("DONE" in line for line in lines if WORKER_LINE.match(line)) == 22
