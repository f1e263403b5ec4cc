"""dispatch()'s NOTIFY at most once per queue per window, and the trailing NOTIFY after it
(app/queue/db/wakeups.py), against a real PostgreSQL and real workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
import sqlalchemy as sa

from app.queue import dispatch
from tests.jobs.basic import Record
from tests.jobs.sample_jobs import Carry
from tests.support import ROOT, count, start_worker, wait_for


class Heard(threading.Thread):
    """LISTENs on its own thread, so each NOTIFY's arrival time is when it came."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(sa.engine.make_url(database_url).set(
            drivername="postgresql").render_as_string(hide_password=False), autocommit=True)
        self.conn.execute("LISTEN skiplock")
        self.notes: list[tuple[float, str]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for note in self.conn.notifies(timeout=0.05):
                self.notes.append((time.monotonic(), note.payload))

    def until_quiet(self, quiet: float = 0.5) -> list[tuple[float, str]]:
        """(arrival on time.monotonic(), queue) of each NOTIFY, once none came for `quiet` s."""
        seen = -1
        while seen != len(self.notes):
            seen = len(self.notes)
            time.sleep(quiet)
        return list(self.notes)


@pytest.fixture
def listen(database_url: str):
    heard = Heard(database_url)
    heard.start()
    yield heard
    heard.halt.set()
    heard.join(5)
    heard.conn.close()


def test_a_burst_notifies_a_few_times_and_once_after_its_last_job(queue, engine, listen,
                                                                  monkeypatch):
    # A window wide enough that a loaded machine's slow dispatches still share one.
    window = 0.05
    wakeups = queue.store.dispatcher.wakeups
    monkeypatch.setattr(wakeups, "window", window)
    started = time.monotonic()
    for i in range(300):
        last_sent = time.monotonic()
        dispatch(Carry(i), queue="burst")
    last_returned = time.monotonic()
    last_notified_with_insert = wakeups._notified["burst"] >= last_sent
    notes = listen.until_quiet()
    assert count(engine, "SELECT count(*) FROM jobs") == 300
    assert {queue for _, queue in notes} == {"burst"}
    windows = (last_returned - started) / window
    assert len(notes) <= windows + 2, (len(notes), windows)
    assert len(notes) < 150
    if not last_notified_with_insert:  # as nearly always: the last one went in without
        assert max(at for at, _ in notes) > last_returned  # and one came after it


def test_a_dispatch_in_the_callers_transaction_always_notifies(queue, engine, listen):
    for i in range(20):
        with engine.begin() as conn:
            dispatch(Carry(i), queue="theirs", connection=conn)
    assert len(listen.until_quiet()) == 20


def listener_connected(engine: sa.Engine) -> bool:
    return count(engine, "SELECT count(*) FROM pg_stat_activity "
                         "WHERE application_name = 'skiplock-listener'") > 0


def starts(engine: sa.Engine) -> dict[str, float]:
    with engine.connect() as conn:
        return {tag: float(at) for tag, at in conn.execute(sa.text(
            "SELECT tag, extract(epoch FROM at) FROM ledger WHERE event = 'start'"))}


def test_an_idle_worker_starts_a_job_that_went_in_without_notify_soon(
        queue, engine, listen, monkeypatch):
    # The worker polls every 30 s: only a NOTIFY can start a job sooner. Pairs of jobs: the
    # first NOTIFYs, the worker runs it and goes idle; the second goes in inside the first's
    # window (widened to 50 ms here, so that it lands after the worker went idle), without
    # NOTIFY: only the trailing one can wake the worker for it.
    window = 0.05
    monkeypatch.setattr(queue.store.dispatcher.wakeups, "window", window)
    proc = start_worker("--sleep", "30", "--quiet")
    try:
        assert wait_for(lambda: listener_connected(engine), 30)
        dispatch(Record("warm"))
        assert wait_for(lambda: "warm" in starts(engine), 30)
        time.sleep(0.5)  # idle: listening, not a loop still busy with the warm-up
        dispatched: dict[str, float] = {}
        for i in range(15):
            dispatch(Record(f"lead{i}"))
            time.sleep(0.005 + 0.002 * i)  # the worker runs it and goes idle meanwhile
            dispatch(Record(f"trail{i}"))
            dispatched[f"trail{i}"] = time.time()
            time.sleep(2 * window)
        assert wait_for(lambda: len(starts(engine)) == 31, 20)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    started = starts(engine)
    waits = sorted(started[tag] - at for tag, at in dispatched.items())
    assert waits[-1] < window + 1.0, waits


def test_a_forked_child_sends_its_own_trailing_notify(queue, engine, listen):
    for i in range(3):  # the parent's timer thread is running
        dispatch(Carry(i), queue="parent")
    before = len(listen.until_quiet(0.2))
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status
        try:
            # Wide enough for the first dispatch's connect: the second is inside its window.
            queue.store.dispatcher.wakeups.window = 0.2
            dispatch(Carry(10), queue="child")
            dispatch(Carry(11), queue="child")  # inside the window: its NOTIFY trails
            time.sleep(0.6)
            os._exit(0)  # no atexit: only the child's timer can have sent it
        except BaseException:  # noqa: BLE001 - any failure is the exit status
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [queue for _, queue in listen.until_quiet(0.2)[before:]] == ["child", "child"]


EXITS_AT_ONCE = """
from app.bootstrap import make_context
from app.queue import context, dispatch
from tests.jobs.sample_jobs import Carry

ctx = make_context()
context.use(ctx)
ctx.store.dispatcher.wakeups.window = 60.0  # no timer fires before the exit
dispatch(Carry(1), queue="exiting")
dispatch(Carry(2), queue="exiting")
"""


def test_a_process_that_exits_sends_its_pending_notify_first(queue, engine, listen,
                                                             database_url):
    done = subprocess.run([sys.executable, "-c", EXITS_AT_ONCE], cwd=ROOT, timeout=60,
                          env={**os.environ, "DATABASE_URL": database_url},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert count(engine, "SELECT count(*) FROM jobs") == 2
    assert [queue for _, queue in listen.until_quiet()] == ["exiting", "exiting"]
