"""The worker's pulse: beat, react to queue:restart, give back the jobs of dead workers."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from app.queue.connections.base import QueueStore
from app.queue.errors import DatabaseUnavailable
from app.queue.worker.outage import OutageLog


def heartbeat_interval(retry_after: float) -> float:
    """A few beats fit in retry_after, so one late beat never makes a live worker look dead."""
    return min(5.0, max(retry_after / 4, 0.2))


class Heartbeat(threading.Thread):
    """Runs beside the job threads so that a long job never stops the beats."""

    def __init__(self, store: QueueStore, worker_id: str, started_at: dt.datetime,
                 retry_after: float, stats: Callable[[], tuple[int, int, int]],
                 on_restart: Callable[[], None], on_lost_row: Callable[[], None],
                 log: Callable[[str], None], outage: OutageLog,
                 on_beat: Callable[[], None] = lambda: None,
                 on_cancelled: Callable[[str], None] = lambda job_id: None) -> None:
        super().__init__(name="skiplock-heartbeat", daemon=True)
        self.on_beat = on_beat
        """Called after each beat, from this thread (the worker flushes its metrics)."""
        self.on_cancelled = on_cancelled
        """Called, from this thread, for each running job of the worker's that was cancelled
        (each beat until it is stopped: the worker stops a job once)."""
        self.store = store
        self.worker_id = worker_id
        self.started_at = started_at
        self.retry_after = retry_after
        self.interval = heartbeat_interval(retry_after)
        self.stats = stats
        self.on_restart = on_restart
        self.on_lost_row = on_lost_row
        self.log = log
        self.outage = outage
        self._halt = threading.Event()
        self._connected_since: float | None = time.monotonic()

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=10)

    def run(self) -> None:
        wait = self.interval
        while not self._halt.wait(wait):
            wait = self.interval
            try:
                self.beat()
                if self._connected_since is None:
                    self._connected_since = time.monotonic()
                self.outage.up("heartbeat")
                if self.may_rescue():
                    self.rescue()
            except DatabaseUnavailable as exc:
                self.outage.down("heartbeat", exc)
                self._connected_since = None
                wait = min(self.interval, 0.5)  # see the database back soon after it is

    def beat(self) -> None:
        running, processed, failed = self.stats()
        row = self.store.heartbeat(self.worker_id, running, processed, failed)
        self.on_beat()
        if row is None:
            self.on_lost_row()
            return
        if row.was_presumed_dead:
            self.log("this worker had been presumed dead (no heartbeat for "
                     f"{self.retry_after:g}s); its reservations were given back")
        if row.restart_at is not None and row.restart_at > self.started_at:
            self.on_restart()
        for job_id in row.cancelled:
            self.on_cancelled(job_id)

    def may_rescue(self) -> bool:
        """Only after two beats in a row: a worker that was itself cut off from the database
        must give the others time to beat again before judging them dead."""
        return (self._connected_since is not None
                and time.monotonic() - self._connected_since >= 2 * self.interval)

    def rescue(self) -> None:
        given_back = self.store.rescue_jobs_of_dead_workers(self.retry_after)
        self.store.prune_stopped_workers()
        if given_back:
            self.log(f"gave back {len(given_back)} job(s) of dead workers")
