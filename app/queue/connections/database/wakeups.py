"""Dispatch's wake-ups: which dispatch() NOTIFYs, and the trailing NOTIFY after a burst.

PostgreSQL serializes the commits of transactions that NOTIFY (PreCommit_Notify takes one lock
per database and holds it through the commit's WAL flush), so dispatches that each NOTIFY
cannot share a flush: with pgbench -c 8 on this server an insert commits 21,400 times/s, an
insert plus pg_notify 9,600. So a dispatch of our own (not one in the caller's transaction)
NOTIFYs with its insert only if this process has not notified its queue for WINDOW_S: the
first dispatch in a quiet moment wakes a worker at once, and in a steady flow one insert per
window carries the NOTIFY. Inside the window the insert goes without, and its queue is owed a
trailing NOTIFY: the next dispatch after the window carries it, or, if none comes within one
more window, a timer thread sends it. Either way it is committed after the jobs it is for:
every job is followed by a NOTIFY of its queue, and an idle worker starts it within two
windows plus a claim. A busy worker needs none: it claims again before it sleeps. A process
killed before its trailing NOTIFY leaves those jobs to the workers' poll (`--sleep`).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence

import psycopg
import sqlalchemy as sa

log = logging.getLogger("skiplock.dispatch")

WINDOW_S = 0.010
"""At most one NOTIFY per queue per process this often in a flow of dispatches. Below the
latency figure's 20 ms between jobs, so that a process dispatching less often than every
10 ms notifies every job at once. 8 processes x 1,000 dispatch() at once on this 2-core
machine while others loaded it (pgbench -c 8 then: an insert 3,905-4,465 commits/s, an insert
plus pg_notify 409-491), medians of 3 alternated runs, 2026-11-28: every dispatch notifying
1,076 jobs/s, a 10 ms window 2,070, 50 ms 3,452, none at all 3,773. On the machine nearly
quiet, 8 x 2,000: 6,833 with 10 ms against 5,365 before (medians of 3 alternated runs). 50 ms
would put the latency figure's jobs inside each other's window."""


class Wakeups:
    """Which dispatches NOTIFY, and the trailing NOTIFY of the queues whose jobs went in
    without one. `send(queues)` commits one NOTIFY per queue; it is called from the timer
    thread (one, started on the first quiet insert) and at interpreter exit, never while
    `_lock` is held. A forked child starts with nothing pending and no thread (the parent's
    pending jobs are the parent's to announce)."""

    def __init__(self, send: Callable[[Sequence[str]], None], window: float = WINDOW_S) -> None:
        self.send = send
        self.window = window
        self._reset()
        _all.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._notified: dict[str, float] = {}
        """queue -> when this process last notified it (time.monotonic())."""
        self._pending: dict[str, float] = {}
        """queue -> when its trailing NOTIFY is due: jobs went in without one."""
        self._thread: threading.Thread | None = None
        self._timer_at = -math.inf
        """When the timer thread wakes next (inf: when told; -inf: it is awake)."""
        self._sending: list[str] = []
        """The timer's queues while it sends them (sent again at exit: it may not finish)."""

    def notify_with_insert(self, queue: str) -> bool:
        """Whether this dispatch's insert NOTIFYs (the leading edge). If not, the caller must
        call `inserted_quietly(queue)` once the insert has committed (or may have)."""
        now = time.monotonic()
        with self._lock:
            if now - self._notified.get(queue, -math.inf) < self.window:
                return False
            # A pending trailing NOTIFY rides on this insert's: the jobs it was for committed
            # before this insert, whose NOTIFY is committed with it.
            self._pending.pop(queue, None)
            self._notified[queue] = now
            return True

    def inserted_quietly(self, queue: str) -> None:
        """A job of `queue` committed without NOTIFY: one follows at the window's end. Called
        after the commit, so the NOTIFY the timer sends is committed after the job."""
        with self._lock:
            if queue not in self._pending:
                # One window after the last NOTIFY a dispatch sends it with its insert; the
                # timer sends it only if none comes in the window after that.
                notified = self._notified.get(queue, time.monotonic())
                due = self._pending[queue] = notified + 2 * self.window
                self._start_timer()
                if due < self._timer_at:  # else it wakes in time and looks again
                    self._changed.notify()

    def close(self) -> None:
        """Send every pending NOTIFY now and end the timer thread (a later quiet insert
        starts another)."""
        with self._lock:
            self._thread = None
            self._changed.notify()
        self.flush()

    def flush(self) -> None:
        """Send every pending NOTIFY now (at exit)."""
        with self._lock:
            queues = list(dict.fromkeys([*self._sending, *self._pending]))
            self._pending.clear()
        if queues:
            self._send(queues)

    def _start_timer(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="skiplock-wakeups",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        me = threading.current_thread()
        while queues := self._wait_for_due(me):
            self._send(queues)
            with self._lock:
                self._sending = []

    def _wait_for_due(self, me: threading.Thread) -> list[str]:
        """The queues whose trailing NOTIFY is due, once some are; none once closed."""
        with self._lock:
            while self._thread is me:
                now = time.monotonic()
                due = [queue for queue, at in self._pending.items() if at <= now]
                if due:
                    for queue in due:
                        del self._pending[queue]
                        self._notified[queue] = now
                    self._sending = due
                    return due
                self._timer_at = min(self._pending.values(), default=math.inf)
                self._changed.wait(None if self._timer_at == math.inf else self._timer_at - now)
                self._timer_at = -math.inf  # awake: looks at _pending before it waits again
            return []

    def _send(self, queues: Sequence[str]) -> None:
        try:
            self.send(queues)
        except (psycopg.Error, sa.exc.SQLAlchemyError) as exc:
            # Those jobs are found by the workers' next poll (--sleep) or claim.
            first = str(exc).strip().splitlines()
            log.warning("could not NOTIFY queue(s) %s: %s", ", ".join(queues),
                        first[0] if first else type(exc).__name__)


_all: weakref.WeakSet[Wakeups] = weakref.WeakSet()


def _flush_all() -> None:
    for wakeups in list(_all):
        wakeups.flush()


def _reset_all_in_child() -> None:
    for wakeups in list(_all):
        wakeups._reset()


atexit.register(_flush_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_all_in_child)
