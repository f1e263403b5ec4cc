"""LISTEN on a dedicated connection; wake the worker when a job lands on one of its queues."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection

import psycopg

from app.queue.connections.base import OutageReport

CHANNEL = "skiplock"
CANCEL_CHANNEL = "skiplock_cancel"
"""`<worker id> <job id>`: a job that worker runs was cancelled (app/queue/cancellation.py)."""


class Listener(threading.Thread):
    """Calls `wake()` for each notification naming one of `queues`, and after every
    (re)connect — notifications sent while it was disconnected are lost, so the worker
    must look at the table again (the heartbeat reads lost cancels). `on_cancel` gets each
    CANCEL_CHANNEL payload. Reconnects with backoff; never raises."""

    def __init__(self, conninfo: str, queues: Collection[str], wake: Callable[[], None],
                 outage: OutageReport,
                 on_cancel: Callable[[str], None] = lambda note: None) -> None:
        super().__init__(name="skiplock-listener", daemon=True)
        self.conninfo = conninfo
        self.queues = frozenset(queues)
        self.wake = wake
        self.on_cancel = on_cancel
        self.outage = outage
        self.ready = threading.Event()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        delay = 0.5
        while not self._halt.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5,
                                     application_name="skiplock-listener") as conn:
                    conn.execute(f"LISTEN {CHANNEL}; LISTEN {CANCEL_CHANNEL}")
                    self.outage.up("listener")
                    delay = 0.5
                    self.ready.set()
                    self.wake()
                    self._listen(conn)
            except psycopg.Error as exc:
                first = str(exc).strip().splitlines()
                self.outage.down("listener", f"lost the database connection "
                                             f"({first[0] if first else type(exc).__name__})")
                self.ready.set()  # the worker must not wait for a listener that cannot connect
                self._halt.wait(delay)
                delay = min(delay * 2, 5.0)

    def _listen(self, conn: psycopg.Connection) -> None:
        while not self._halt.is_set():
            for note in conn.notifies(timeout=1.0):
                if note.channel == CANCEL_CHANNEL:
                    self.on_cancel(note.payload)
                elif note.payload in self.queues:
                    self.wake()
