"""`fake_queue`: record what code dispatches instead of enqueuing it (Laravel's `Queue::fake()`).

    from app.queue.testing import fake_queue

    def test_signup_sends_the_welcome_email():
        with fake_queue() as queue:
            signup("a@b.c")
        queue.assert_pushed(SendWelcomeEmail, lambda job: job.email == "a@b.c")

A pytest fixture of the same name comes with the package (`app.queue.pytest_plugin`, registered
as a pytest plugin), so a project's tests can simply take `fake_queue` as an argument.

Jobs are checked as `dispatch` checks them (arguments that cannot be stored, a bad queue name,
delay or priority raise as they would), then kept in memory: nothing touches the database.
A unique job (`unique_for`) whose key an earlier push of the block holds is not kept, and
dispatch returns None, as with a real queue whose worker has not run the first yet.
Each failed assertion says what was pushed instead.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from app.queue.db.records import UniqueLock
from app.queue.job import Job


@dataclass(frozen=True, slots=True)
class Pushed:
    """One job as code dispatched it."""

    id: str
    job: Job
    queue: str
    delay: Any
    priority: int
    lock: UniqueLock | None = None


class FakeQueue:
    def __init__(self) -> None:
        self.jobs: list[Pushed] = []
        self._held: set[str] = set()
        """Unique keys pushed in this block (no worker runs here to free them)."""
        self._lock = threading.Lock()

    def push(self, pushed: Pushed) -> str | None:
        """Keep `pushed`; None (and nothing kept) for a duplicate of a unique job."""
        with self._lock:
            if pushed.lock is not None:
                if pushed.lock.key in self._held:
                    return None
                self._held.add(pushed.lock.key)
            self.jobs.append(pushed)
        return pushed.id

    # ---------------------------------------------------------------------------- reading

    def pushed(self, job_class: type[Job],
               predicate: Callable[[Any], Any] | None = None) -> list[Job]:
        """The jobs of `job_class` pushed so far (that `predicate` accepts), in order."""
        return [p.job for p in self.jobs if isinstance(p.job, job_class)
                and (predicate is None or predicate(p.job))]

    # ------------------------------------------------------------------------- asserting

    def assert_pushed(self, job_class: type[Job], predicate: Callable[[Any], Any] | None = None,
                      times: int | None = None) -> None:
        found = self.pushed(job_class, predicate)
        what = f"{job_class.__qualname__}{' matching the predicate' if predicate else ''}"
        if times is None and not found:
            raise AssertionError(f"expected {what} to be pushed; {self._summary()}")
        if times is not None and len(found) != times:
            raise AssertionError(f"expected {what} to be pushed {times} time(s), it was pushed "
                                 f"{len(found)} time(s); {self._summary()}")

    def assert_pushed_on(self, queue: str, job_class: type[Job],
                         predicate: Callable[[Any], Any] | None = None) -> None:
        if not any(p.queue == queue and isinstance(p.job, job_class)
                   and (predicate is None or predicate(p.job)) for p in self.jobs):
            raise AssertionError(f"expected {job_class.__qualname__} to be pushed on queue "
                                 f"{queue!r}; {self._summary()}")

    def assert_not_pushed(self, job_class: type[Job],
                          predicate: Callable[[Any], Any] | None = None) -> None:
        found = self.pushed(job_class, predicate)
        if found:
            raise AssertionError(f"expected {job_class.__qualname__} not to be pushed; it was "
                                 f"pushed {len(found)} time(s): {self._describe(found)}")

    def assert_nothing_pushed(self) -> None:
        if self.jobs:
            raise AssertionError(f"expected nothing to be pushed; {self._summary()}")

    # ------------------------------------------------------------------------- messages

    def _summary(self) -> str:
        if not self.jobs:
            return "nothing was pushed"
        return "pushed instead: " + self._describe([p.job for p in self.jobs], with_queue=True)

    def _describe(self, jobs: Sequence[Job], with_queue: bool = False) -> str:
        queues = {id(p.job): p.queue for p in self.jobs}
        shown = []
        for job in jobs[:10]:
            args = ", ".join(f"{k}={v!r}" for k, v in vars(job).items()
                             if not k.startswith("_") and k not in ("job_id", "attempts"))
            where = f" on {queues.get(id(job))!r}" if with_queue else ""
            shown.append(f"{type(job).__qualname__}({args}){where}")
        more = f" and {len(jobs) - 10} more" if len(jobs) > 10 else ""
        return "; ".join(shown) + more


_active: FakeQueue | None = None


def active() -> FakeQueue | None:
    """The fake in force, if any (dispatch records into it instead of enqueuing)."""
    return _active


@contextlib.contextmanager
def fake_queue() -> Iterator[FakeQueue]:
    """Record every dispatch of the block in a FakeQueue instead of enqueuing it."""
    global _active
    previous, _active = _active, FakeQueue()
    try:
        yield _active
    finally:
        _active = previous


__all__ = ["FakeQueue", "Pushed", "active", "fake_queue"]
