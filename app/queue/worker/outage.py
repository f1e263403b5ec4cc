"""The database away, or refusing: one line when it goes, one when the worker has it back.

The claim loop, the listener and the heartbeat each hold their own connection and each notices
a lost database on its own. Logging each of them would print up to six lines for one blip; an
operator wants to read "it went away, here is why" and "it is back after N s".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from app.queue.connections.base import QueueStore
from app.queue.errors import ClaimRefused, DatabaseUnavailable, QueueDatabaseError
from app.queue.runner import AttemptResult
from app.queue.worker.slot import Slot

T = TypeVar("T")


class OutageLog:
    """Shared by the parts of one worker process; safe to call from any thread."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self._lock = threading.Lock()
        self._down: set[str] = set()
        self._since: float | None = None

    def down(self, part: str, reason: object) -> None:
        """`part` cannot reach the database. Logged only if nothing else was down already."""
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()
                self.log(f"{reason} (noticed by the {part}); retrying until it is back")
            self._down.add(part)

    def is_down(self, part: str) -> bool:
        return part in self._down

    def up(self, part: str) -> None:
        """`part` talked to the database again. Logged when no part is down any more."""
        if part not in self._down:  # the usual case, on every claim: no lock needed to see it
            return
        with self._lock:
            if part not in self._down:
                return
            self._down.discard(part)
            if not self._down and self._since is not None:
                self.log(f"database is back after {time.monotonic() - self._since:.1f}s")
                self._since = None


class WorkerLink:
    """The worker's own connection (claims and outcome writes): is it down, was the claim
    refused, and may a lost claim have reserved jobs unseen. Used by the main thread only."""

    PART = "worker"

    def __init__(self, store: QueueStore, worker_id: str, outage: OutageLog,
                 log: Callable[[str], None]) -> None:
        self.store = store
        self.worker_id = worker_id
        self.outage = outage
        self.log = log
        self.claim_in_doubt = False
        """The last claim lost its connection: it may have committed reservations unseen."""
        self.claim_refused_since: float | None = None
        self._claim_refused_logged = 0.0

    @property
    def down(self) -> bool:
        """The claim or an outcome write failed for want of the database, and has not
        succeeded since."""
        return self.outage.is_down(self.PART)

    def lost(self, exc: DatabaseUnavailable) -> None:
        self.outage.down(self.PART, exc)

    def answered(self) -> None:
        self.outage.up(self.PART)

    def claim_lost(self, exc: DatabaseUnavailable) -> None:
        self.claim_in_doubt = True
        self.lost(exc)

    def claim_refused(self, exc: ClaimRefused) -> None:
        """The database refused the claim (the acknowledgements with it, so they are kept).
        Running jobs go on; claiming is retried every second, logged once a minute."""
        now = time.monotonic()
        if self.claim_refused_since is None:
            self.claim_refused_since = now
        if now - self._claim_refused_logged >= 60:
            self._claim_refused_logged = now
            self.log(f"the database refused the claim: {exc}; retrying every second")

    def claim_answered(self) -> None:
        self.answered()
        if self.claim_refused_since is not None:
            self.log(f"claims work again after {time.monotonic() - self.claim_refused_since:.1f}s")
            self.claim_refused_since = None
            self._claim_refused_logged = 0.0

    def give_back_unseen(self, known: Sequence[str]) -> None:
        """A claim whose answer was lost may still have committed: its jobs would stay
        reserved by this live worker, never run and never rescued. Give back every
        reservation of ours that we do not hold; they never started, so no attempt counts."""
        given_back = self.store.give_back_unseen(self.worker_id, known)
        self.claim_in_doubt = False
        if given_back:
            self.log(f"gave back {len(given_back)} job(s) reserved by a claim whose answer "
                     "was lost with the connection")

    def until_answers(self, call: Callable[[], T], stopping: Callable[[], bool]) -> T:
        """`call()`, again and again with backoff while the database is away (unless the
        worker is stopping: then the outage is raised)."""
        delay = 0.5
        while True:
            try:
                result = call()
            except DatabaseUnavailable as exc:
                if stopping():
                    raise
                self.lost(exc)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.answered()
            return result


REFUSED_WRITE_ERRORS: tuple[type[BaseException], ...] = (QueueDatabaseError,)
"""A write the database answered with an error (not an outage): the store wraps every driver
error in a QueueDatabaseError. Catch DatabaseUnavailable (one of them) before these."""


class RefusedOutcomes:
    """Outcomes the database refused to store (say, `failed_jobs` was renamed away). Each job
    keeps its reservation, so no one runs it again, but leaves its slot, so the worker goes on
    with other jobs; all are retried with backoff. Logged when the first is refused and when
    the last is written, not on every retry."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.held: dict[str, tuple[Slot, AttemptResult]] = {}
        """Job id -> (slot, result) of the outcomes waiting to be written."""
        self._since: float | None = None
        self._delay = 0.5
        self._retry_at = 0.0

    def hold(self, slot: Slot, result: AttemptResult, exc: BaseException) -> None:
        self.held[slot.claimed.id] = (slot, result)
        if self._since is None:
            self._since = time.monotonic()
            self.log(f"cannot record the outcome of {slot.what}: {first_line(exc)}; keeping "
                     "its reservation and retrying")
        self.retry_later()

    def due(self) -> bool:
        return bool(self.held) and time.monotonic() >= self._retry_at

    def outcomes(self) -> list[tuple[Slot, AttemptResult]]:
        return list(self.held.values())

    def retry_later(self) -> None:
        self._retry_at = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, 5.0)

    def written(self, job_id: str) -> None:
        del self.held[job_id]
        if not self.held and self._since is not None:
            self.log(f"recorded the outcomes the database had refused, after "
                     f"{time.monotonic() - self._since:.1f}s")
            self._since = None
            self._delay = 0.5


def first_line(exc: BaseException) -> str:
    """The driver's message, first line (not SQLAlchemy's echo of the statement)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
