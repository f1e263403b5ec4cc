"""The per-queue counts (QueueAdmin.status) shared by every request.

Exact counts cost a scan of the waiting rows: ~0.6 s at 1,000,000 jobs on a small server,
at any query shape. While the counts are cheap (under SLOW) every request reads them fresh.
Once they are not, requests get the last snapshot at once and one background refresh runs
when it is older than ten times its cost (so counting takes at most ~10 % of one database
core, however many browsers and scrapers look): pages say how old the counts they show are.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.queue.admin import QueueAdmin, QueueStats
from app.queue.errors import DatabaseUnavailable

SLOW = 0.05
"""Seconds: counts that took longer are served from a snapshot."""
MIN_AGE = 2.0
"""Seconds a snapshot is served before a refresh, however cheap."""
MAX_STALE = 60.0
"""Seconds after which a request waits for fresh counts rather than show old ones (and sees
the database's error if it is down)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    stats: list[QueueStats]
    taken_at: float
    """time.monotonic() when the query started."""
    cost: float
    """Seconds the query took."""


class QueueCounts:
    def __init__(self, admin: QueueAdmin, retry_after: float = 90.0,
                 default_queue: str = "default",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.admin = admin
        self.retry_after = retry_after
        self.default_queue = default_queue
        self.clock = clock
        self._snapshot: Snapshot | None = None
        self._refreshing = False
        self._lock = threading.Lock()

    def get(self) -> Snapshot:
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and snapshot.cost >= SLOW:
                age = self.clock() - snapshot.taken_at
                if age <= max(MAX_STALE, 10 * snapshot.cost):
                    if age > max(MIN_AGE, 10 * snapshot.cost) and not self._refreshing:
                        self._refreshing = True
                        threading.Thread(target=self._refresh_in_background,
                                         name="dashboard-counts", daemon=True).start()
                    return snapshot
        return self._refresh()

    def age(self, snapshot: Snapshot) -> float:
        return self.clock() - snapshot.taken_at

    def _refresh(self) -> Snapshot:
        started = self.clock()
        stats = self.admin.status(self._listed())
        snapshot = Snapshot(stats, started, self.clock() - started)
        with self._lock:
            if self._snapshot is None or self._snapshot.taken_at <= started:
                self._snapshot = snapshot
        return snapshot

    def _listed(self) -> list[str]:
        """Queues shown even while empty: the default one, and those live workers serve (so
        that a queue can be paused before its first job)."""
        workers = self.admin.workers(self.retry_after)
        served = {queue for worker in workers if worker.state.value == "live"
                  for queue in worker.queues}
        return sorted({self.default_queue, *served})

    def _refresh_in_background(self) -> None:
        try:
            self._refresh()
        except DatabaseUnavailable:
            pass  # the snapshot ages until MAX_STALE, then a request sees the error itself
        finally:
            with self._lock:
                self._refreshing = False
