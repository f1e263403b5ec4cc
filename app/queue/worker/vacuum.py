"""The bloat guard: workers VACUUM `jobs` when nothing else has for a while.

Every job leaves dead row versions behind (its claim's update, then its delete) and dead
entries at the front of jobs_claim_idx, in the queue's key range. Only a VACUUM removes them:
until then every claim steps over all of them, from the first, so a queue that churns with
autovacuum off (or lagging behind) slows down as it goes. Measured with `queue:bench --figures
churn` (autovacuum off, one worker at concurrency 10): a claim read ~1 more index page per
100 jobs churned (106 pages after 10,000 jobs, 217 after 20,000, ~400 after 50,000).

So after each heartbeat a worker asks the statistics how many rows were inserted into `jobs`
since its last vacuum (by anyone: autovacuum, a person, another worker) and, past
QUEUE_VACUUM_EVERY, vacuums it on a thread of its own (a VACUUM of a large backlog takes
seconds, and the heartbeat must not wait). `SKIP_LOCKED`: a worker that finds another one's
VACUUM running skips its own. A role that does not own `jobs` cannot vacuum it; the worker
then says so once and stops trying.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.queue.connections.base import QueueStore
from app.queue.errors import DatabaseUnavailable, QueueDatabaseError
from app.queue.worker.outage import first_line


class BloatGuard:
    def __init__(self, store: QueueStore, every: int, log: Callable[[str], None]) -> None:
        self.store = store
        self.every = every
        """Rows inserted since the last vacuum that call for one; 0: never vacuum."""
        self.log = log
        self._vacuuming = threading.Lock()

    def check(self) -> None:
        """From the heartbeat thread, after a beat: start a VACUUM if one is due."""
        if self.every <= 0 or self._vacuuming.locked():
            return
        try:
            inserted, may_vacuum = self.store.jobs_since_vacuum()
        except DatabaseUnavailable:
            raise  # the heartbeat's to report
        except QueueDatabaseError as exc:  # never stop the heartbeat over the guard
            self.every = 0
            self.log(f"cannot read the statistics of jobs, so it is never vacuumed by this "
                     f"worker: {first_line(exc)}")
            return
        if not may_vacuum:
            self.every = 0
            self.log("this role does not own jobs, so it cannot VACUUM it: its dead rows stay "
                     "until autovacuum or the owner removes them (QUEUE_VACUUM_EVERY=0 turns "
                     "this check off)")
        elif inserted >= self.every and self._vacuuming.acquire(blocking=False):
            threading.Thread(target=self._vacuum, name="skiplock-vacuum", daemon=True).start()

    def _vacuum(self) -> None:
        try:
            self.store.vacuum_jobs()
        except DatabaseUnavailable:
            pass  # the heartbeat reports the outage; a beat after it tries again
        except QueueDatabaseError as exc:
            self.log(f"VACUUM jobs failed: {first_line(exc)}")
        finally:
            self._vacuuming.release()
