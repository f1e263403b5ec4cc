"""Poison and hostile rows written straight into `jobs`, misbehaving jobs, and bad dispatch
input: each ends as a clear error (in failed_jobs, or raised at dispatch), nothing hostile runs,
and the worker goes on serving good jobs."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.queue import dispatch
from app.queue.settings import MAX_PRIORITY
from tests.jobs.basic import Record
from tests.jobs.reliability import (
    CallsSysExit,
    ExitsProcess,
    FailedHookRaises,
    RaisesKeyboardInterrupt,
    RaisesUnprintable,
)
from tests.jobs.sample_jobs import Carry
from tests.reliability.support import Fleet, ledger_runs, wait_for
from tests.support import ROOT, artisan, count

ENV = {"QUEUE_RETRY_AFTER": "2"}
HUGE = 5 * 1024 * 1024
RECORD = "tests.jobs.basic.Record"


def document(job: object, data: object = None) -> str:
    return json.dumps({"job": job, "data": {} if data is None else data})


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def poison_rows(marker: Path) -> dict[str, tuple[str, str]]:
    """id -> (payload as JSON text, what the failed job's error must say)."""
    touch = f"touch {marker}"
    return {
        # Structurally wrong JSON (jsonb accepts only valid JSON, so "broken" means this).
        "json-string": ('"tests.jobs.basic.Record"', "must be an object"),
        "json-array": (f'["{RECORD}", {{"tag": "x"}}]', "must be an object"),
        "json-null": ("null", "must be an object"),
        "json-number": ("42", "must be an object"),
        "no-job-key": ('{"data": {"tag": "x"}}', "malformed job class path None"),
        "job-not-a-string": (document(42), "malformed job class path 42"),
        "job-a-list": (document([RECORD]), "malformed job class path"),
        "data-a-list": (document(RECORD, ["x"]), "must be an object"),
        "data-a-string": (document(RECORD, "x"), "must be an object"),
        "bad-tagged-value": (document(RECORD, {"tag": {"__type__": "datetime", "value": 5}}),
                             "malformed datetime"),
        "deep-nesting": (f'{{"job": "{RECORD}", "data": {{"tag": {nested(5000)}}}}}',
                         "nested too deeply"),
        # Class paths that are not jobs, or not ours to import.
        "os-system": (document("os.system", {"command": touch}), "outside the job packages"),
        "subprocess-run": (document("subprocess.run", {"args": ["touch", str(marker)]}),
                           "outside the job packages"),
        "builtins-eval": (document("builtins.eval", {"source": f"open({str(marker)!r}, 'w')"}),
                          "outside the job packages"),
        "job-outside-packages": (document("app.bench.bench_noop.BenchNoop", {"i": 1}),
                                 "outside the job packages"),
        "function-in-package": (document("tests.jobs.basic.record", {"job": 1, "event": "x"}),
                                "defines no class 'record'"),
        "base-job-class": (document("tests.jobs.basic.Job"), "defines no class 'Job'"),
        "module-through-package": (document("tests.jobs.basic.os.system", {"command": touch}),
                                   "cannot import"),
        # Right class, wrong arguments.
        "wrong-argument-names": (document(RECORD, {"label": "x", "secs": 1}), "cannot construct"),
        "replaces-a-method": (document(RECORD, {"tag": "x", "handle": "os.system"}),
                              "would replace a method"),
        "sets-internals": (document(RECORD, {"tag": "x", "_fail_reason": "no"}),
                           "would replace a method"),
        "huge-and-hostile": (document("os.system", {"command": touch + " " + "x" * HUGE}),
                             "outside the job packages"),
    }


def insert_rows(engine: sa.Engine, rows: dict[str, str], **columns: object) -> None:
    extra = "".join(f", {name}" for name in columns)
    values = "".join(f", :{name}" for name in columns)
    with engine.begin() as conn:
        for job_id, text in rows.items():
            conn.execute(sa.text(f"INSERT INTO jobs (id, queue, payload{extra}) "
                                 f"VALUES (:id, 'default', CAST(:payload AS jsonb){values})"),
                         {"id": job_id, "payload": text, **columns})


def failed(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT id, exception FROM failed_jobs")).all())


def ended(engine: sa.Engine, tag: str) -> bool:
    return count(engine, "SELECT count(*) FROM ledger WHERE tag = :t AND event = 'end'",
                 t=tag) > 0


def test_poison_rows_and_hostile_jobs_fail_cleanly_and_the_worker_serves_on(
        queue, engine, tmp_path):
    marker = tmp_path / "pwned"
    poison = poison_rows(marker)
    insert_rows(engine, {job_id: text for job_id, (text, _) in poison.items()})
    # A reservation held by a worker that never existed: given back and run, once.
    insert_rows(engine, {"ghost": document(RECORD, {"tag": "ghost"})}, attempts=1,
                reserved_by="no-such-worker",
                reserved_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    huge_ok = dispatch(Carry("y" * HUGE))
    hostile = {dispatch(FailedHookRaises("hook")): "the failed() hook is broken too",
               dispatch(CallsSysExit("exit")): "SystemExit: 3",
               dispatch(RaisesKeyboardInterrupt("ctrl-c")): "KeyboardInterrupt"}
    expected = len(poison) + len(hostile)
    started = time.monotonic()
    # Not --quiet: the line printed for each failure must cope with these rows too.
    with Fleet(("--queue", "default,doom", "--sleep", "0.2"), env=ENV) as fleet:
        first = fleet.start()
        assert wait_for(lambda: len(failed(engine)) == expected, 60), \
            sorted((set(poison) | set(hostile)) - set(failed(engine)))
        for i in range(5):  # good jobs after the poison: served by the same process
            dispatch(Record(f"after-{i}"))
        assert wait_for(lambda: all(ended(engine, f"after-{i}") for i in range(5)), 20)
        assert wait_for(lambda: ended(engine, "ghost"), 20)
        assert fleet.alive() == [first], fleet.stop()
        poison_seconds = time.monotonic() - started

        # os._exit() takes the whole process down; a replacement fails the job once
        # QUEUE_RETRY_AFTER gives it back: its one try was used by the dead process.
        doom = dispatch(ExitsProcess("doom"), queue="doom")
        assert wait_for(lambda: fleet.procs[first].poll() is not None, 20)
        assert fleet.procs[first].returncode == 17
        fleet.start()
        assert wait_for(lambda: doom in failed(engine), 30), fleet.stop()
        dispatch(Record("after-exit"))
        assert wait_for(lambda: ended(engine, "after-exit"), 20)
        assert len(fleet.alive()) == 1
        outputs = fleet.stop()

    assert not marker.exists(), "a hostile payload ran"
    errors = failed(engine)
    for job_id, (_, message) in poison.items():
        first_line = errors[job_id].splitlines()[0]
        assert first_line.startswith("PayloadError: "), (job_id, first_line[:300])
        assert message.lower() in first_line.lower(), (job_id, first_line[:300])
        assert len(first_line) < 2000, f"{job_id}: the error quotes the whole payload"
    for job_id, message in hostile.items():
        assert message in errors[job_id], (job_id, errors[job_id])
    assert "failed() hook raised too" in errors[next(iter(hostile))]
    assert "MaxAttemptsExceeded" in errors[doom]
    assert huge_ok not in errors and count(engine, "SELECT count(*) FROM jobs") == 0
    # failed() ran once for each job that has one (the broken hook included).
    events = [event for _, event in ledger_events(engine)]
    assert events.count("failed hook") == 1
    assert events.count("failed: SystemExit") == 1
    assert events.count("failed: KeyboardInterrupt") == 1
    assert events.count("failed: MaxAttemptsExceeded") == 1
    assert [run.end is not None for run in ledger_runs(engine)["ghost"]] == [True]
    for label, (_, err) in outputs.items():
        assert "Traceback" not in err, (label, err)
    assert outputs[first][0] == 17 and list(outputs.values())[-1][0] == 0

    # The operator's view copes with every one of those rows too.
    listing = artisan("queue:failed", "--json", "--limit", "100")
    assert listing.returncode == 0, listing.stderr
    lines = {row["id"]: row["error"] for row in json.loads(listing.stdout)["failed_jobs"]}
    assert set(lines) == set(errors)
    assert all(lines[job_id] for job_id in lines)
    print(f"\nhostile rows: {len(poison)} poison rows + {len(hostile)} hostile jobs failed "
          f"cleanly in {poison_seconds:.1f}s; os._exit job failed as MaxAttemptsExceeded "
          "after the retry_after rule; the marker file was never created")


def test_a_row_cannot_have_a_worker_import_or_run_what_is_not_its_job_module(
        queue, engine, tmp_path):
    """Issue 13.9: class paths are checked before anything is imported. A module of the job
    packages whose source defines no such class is never imported (tests.jobs.sidefx writes
    the marker when it is); `__init__` and other private segments are refused; a class that
    is in a job module only by import, or under a name rebound to another class, is not
    reached through that module."""
    marker = tmp_path / "imported"
    rows = {
        "sidefx": (document("tests.jobs.sidefx.Anything"), "defines no class 'Anything'"),
        "package-init": (document("tests.jobs.__init__.Record", {"tag": "init"}),
                         "private or dunder"),
        "private-module": (document("tests.jobs._sidefx.Anything"), "private or dunder"),
        "imported-outsider": (document("tests.jobs.reexport.BenchNoop", {"args": {"i": 1}}),
                              "defines no class 'BenchNoop'"),
        "imported-insider": (document("tests.jobs.reexport.Renamed", {"tag": "renamed"}),
                             "defines no class 'Renamed'"),
        "rebound-name": (document("tests.jobs.reexport.Swapped", {"args": {"i": 1}}),
                         "that name holds app.bench.bench_noop.BenchNoop"),
    }
    insert_rows(engine, {job_id: text for job_id, (text, _) in rows.items()})
    dispatch(Record("after"), priority=1)
    result = artisan("queue:work", "--stop-when-empty", "--sleep", "0.2", "--max-time", "60",
                     env={"SKIPLOCK_SIDEFX_MARKER": str(marker)}, timeout=90)
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), marker.read_text()
    errors = failed(engine)
    for job_id, (_, message) in rows.items():
        assert errors[job_id].startswith("PayloadError: refused job class"), errors[job_id]
        assert message in errors[job_id].splitlines()[0], errors[job_id]
    assert ended(engine, "after")
    assert not ended(engine, "init") and not ended(engine, "renamed")
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def ledger_events(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT tag, event FROM ledger ORDER BY id"))]


def run_one_worker_until(done, *args: str) -> tuple[list[str], dict[str, tuple[int, str]]]:
    with Fleet(("--sleep", "0.2", *args), env=ENV) as fleet:
        fleet.start()
        wait_for(lambda: done() or not fleet.alive(), 20)
        alive = fleet.alive()
        return alive, fleet.stop()


def test_an_exception_that_cannot_be_printed_does_not_kill_the_worker(queue, engine):
    bad = dispatch(RaisesUnprintable("unprintable"))
    dispatch(Record("after"), priority=1)
    alive, outputs = run_one_worker_until(lambda: ended(engine, "after"))  # not --quiet
    assert bad in failed(engine)
    assert ended(engine, "after"), outputs
    assert alive, outputs


@pytest.mark.parametrize("job", [RECORD, "tests.jobs.basic.AsyncRecord"])
def test_a_row_with_exhausted_attempts_cannot_stop_the_queue(queue, engine, job):
    # An async job is decoded on the worker's event loop: its failure is posted from there.
    insert_rows(engine, {"overflow": document(job, {"tag": "overflow"})},
                attempts=2**63 - 1)
    dispatch(Record("after"))
    alive, outputs = run_one_worker_until(
        lambda: ended(engine, "after") and "overflow" in failed(engine), "--quiet")
    assert ended(engine, "after"), outputs
    assert "overflow" in failed(engine)
    assert alive, outputs


def test_a_claim_the_database_refuses_is_logged_and_retried(queue, engine):
    """A trigger of the user's that raises on the claim's UPDATE: the worker neither exits nor
    spins; it says so once and claims again when the trigger is gone."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE FUNCTION refuse_claims() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'claims are refused by a test trigger'; END $$"))
        conn.execute(sa.text("CREATE TRIGGER refuse_claims BEFORE UPDATE ON jobs "
                             "FOR EACH ROW EXECUTE FUNCTION refuse_claims()"))
    try:
        dispatch(Record("refused"))
        with Fleet(("--sleep", "0.2", "--quiet"), env=ENV) as fleet:
            fleet.start()
            time.sleep(3)  # several refused claims
            assert fleet.alive(), "the worker exited on a refused claim"
            assert not ended(engine, "refused")
            with engine.begin() as conn:
                conn.execute(sa.text("DROP TRIGGER refuse_claims ON jobs"))
            assert wait_for(lambda: ended(engine, "refused"), 20)
            assert fleet.alive()
            outputs = fleet.stop()
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS refuse_claims ON jobs"))
            conn.execute(sa.text("DROP FUNCTION IF EXISTS refuse_claims()"))
    (_, log), = outputs.values()
    refused = [line for line in log.splitlines() if "refused the claim" in line]
    assert len(refused) == 1, log
    assert "claims are refused by a test trigger" in refused[0]
    assert "claims work again" in log


# ------------------------------------------------------------------ bad dispatch input


@pytest.mark.parametrize("delay", [1e300, dt.timedelta.max, 101 * 365.25 * 86400],
                         ids=["1e300 s", "timedelta.max", "101 years"])
def test_a_delay_too_far_in_the_future_is_a_clear_error(queue, engine, delay):
    with pytest.raises(ValueError, match="delay"):
        dispatch(Carry(1), delay=delay)
    assert count(engine, "SELECT count(*) FROM jobs") == 0


@pytest.mark.parametrize("queue_name", [
    pytest.param("\udc80", id="lone surrogate"),
    pytest.param("nul\x00here", id="NUL"),
    pytest.param("tab\there", id="control character"),
    pytest.param(" ", id="blank"),
])
def test_unstorable_queue_names_raise_and_enqueue_nothing(queue, engine, queue_name):
    with pytest.raises(ValueError, match="queue name"):
        dispatch(Carry(1), queue=queue_name)
    assert count(engine, "SELECT count(*) FROM jobs") == 0


SQL_NAMES = ["x'; DROP TABLE jobs; --", 'q"; SELECT pg_sleep(30); --', "%s %(id)s :queue $1 \\",
             "очередь 🚀", "LISTEN skiplock; NOTIFY x"]


def test_queue_names_with_sql_metacharacters_are_data_end_to_end(queue, engine):
    """Stored, claimed (`--queue`), woken by NOTIFY and paused by name, verbatim."""
    with Fleet(("--queue", ",".join(SQL_NAMES), "--sleep", "30", "--quiet")) as fleet:
        fleet.start()
        # Listening: from its first (empty) claim on, only NOTIFY wakes it before 30 s.
        assert wait_for(lambda: count(
            engine, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'skiplock-listener' AND query LIKE 'LISTEN%'") == 1, 20)
        for i, name in enumerate(SQL_NAMES):
            sent = time.monotonic()
            dispatch(Record(f"sql-{i}"), queue=name)
            assert wait_for(lambda i=i: ended(engine, f"sql-{i}"), 5, interval=0.01), name
            assert time.monotonic() - sent < 5
        assert artisan("queue:pause", SQL_NAMES[0]).returncode == 0
        dispatch(Record("paused"), queue=SQL_NAMES[0])
        with engine.connect() as conn:
            paused = conn.execute(sa.text("SELECT queue FROM paused_queues")).scalars().all()
        assert paused == [SQL_NAMES[0]]
        assert artisan("queue:resume", SQL_NAMES[0]).returncode == 0
        assert wait_for(lambda: ended(engine, "paused"), 5)
        outputs = fleet.stop()
    assert all(code == 0 for code, _ in outputs.values()), outputs
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_priorities_at_the_limits_of_the_column_order_the_work(queue, engine):
    dispatch(Record("last"), priority=MAX_PRIORITY)
    dispatch(Record("middle"))
    dispatch(Record("first"), priority=-MAX_PRIORITY - 1)
    for bad in (MAX_PRIORITY + 1, -MAX_PRIORITY - 2):
        with pytest.raises(ValueError, match="priority"):
            dispatch(Record("never"), priority=bad)
    result = artisan("queue:work", "--stop-when-empty", "--sleep", "0.2", "--quiet")
    assert result.returncode == 0, result.stderr
    starts = [tag for tag, event in ledger_events(engine) if event == "start"]
    assert starts == ["first", "middle", "last"]


# ------------------------------------------------- no SQL is built from user values


SQL_CALLS = {"text", "execute", "exec_driver_sql", "executemany", "copy"}
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|COPY|LISTEN|NOTIFY|TRUNCATE|DROP)\s")


def interpolations(node: ast.AST) -> tuple[str, list[ast.expr]] | None:
    """(literal text, interpolated expressions) of a string built by formatting (f-string,
    %, .format, +), or None if `node` builds no string that way."""
    if isinstance(node, ast.JoinedStr):
        text = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
        return text, [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) \
            and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
        right = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        return node.left.value, right
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = [node.left, node.right]
        if not any(isinstance(p, ast.Constant) and isinstance(p.value, str) for p in parts):
            return None
        text = "".join(p.value for p in parts if isinstance(p, ast.Constant))
        return text, [p for p in parts if not isinstance(p, ast.Constant)]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format" and isinstance(node.func.value, ast.Constant)):
        return str(node.func.value.value), [*node.args, *(k.value for k in node.keywords)]
    return None


def is_constant_name(node: ast.expr) -> bool:
    """A module constant (CHANNEL, QUERIES...): fixed by the code, never by a user."""
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return name.isupper()


def sql_built_from_values(tree: ast.AST) -> list[ast.AST]:
    """Formatted strings that are SQL (they reach a driver call, or read like SQL) and
    splice in anything but module constants."""
    to_driver = {id(call.args[0]) for call in ast.walk(tree)
                 if isinstance(call, ast.Call) and call.args
                 and getattr(call.func, "attr", getattr(call.func, "id", "")) in SQL_CALLS}
    found = []
    for node in ast.walk(tree):
        built = interpolations(node)
        if built is None:
            continue
        text, parts = built
        if (id(node) in to_driver or SQL_WORDS.search(text)) \
                and not all(is_constant_name(part) for part in parts):
            found.append(node)
    return found


def test_the_formatting_check_catches_what_it_should():
    bad = [
        "conn.execute(f\"SELECT * FROM jobs WHERE queue = '{queue}'\")",
        "sa.text(\"DELETE FROM jobs WHERE id = '%s'\" % job_id)",
        "sql = \"UPDATE jobs SET queue = '{}'\".format(name)",
        "cursor.copy(\"COPY \" + table)",
        "copy_sql = f\"COPY {table} FROM STDIN\"",
    ]
    good = ["conn.execute(f\"LISTEN {CHANNEL}\")", "conn.execute(QUERIES[name], params)",
            "log(f\"gave back {n} job(s)\")", "sa.text(sql.strip())"]
    assert all(sql_built_from_values(ast.parse(line)) for line in bad)
    assert not any(sql_built_from_values(ast.parse(line)) for line in good)


def test_no_sql_statement_is_built_by_string_formatting():
    """Every statement the app runs is text from a .sql file or a literal, with values bound
    (:name). A formatted string reaching the driver may only splice in module constants
    (listener.py: LISTEN {CHANNEL}, as LISTEN takes no bind parameters)."""
    offenders = []
    sources = sorted((ROOT / "app").rglob("*.py"))
    for path in sources:
        for node in sql_built_from_values(ast.parse(path.read_text(), str(path))):
            offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert sources and not offenders, "\n".join(offenders)
    for sql in (ROOT / "app").rglob("*.sql"):
        text = sql.read_text()
        assert "{" not in text and "%s" not in text and "%(" not in text, sql
