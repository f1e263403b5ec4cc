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
from typing import TYPE_CHECKING, Any

from app.queue import fakes
from app.queue.fakes import Pushed
from app.queue.job import RUNTIME_STATE, Job, give_id

if TYPE_CHECKING:
    from app.queue.bus.batch import Batch, PendingBatch
    from app.queue.bus.chain import PendingChain


class FakeQueue:
    def __init__(self) -> None:
        self.jobs: list[Pushed] = []
        self.chains: list[PendingChain] = []
        self.batches: list[PendingBatch] = []
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

    def push_chain(self, chain: PendingChain) -> str:
        """A chain as dispatched: its first job counts as pushed, as on a real queue (the
        others are only pushed once it succeeded)."""
        first, _ = chain.rows()  # checked as chain.dispatch() checks it
        give_id(chain.jobs[0], first.id)
        # Not through push(): a chain's jobs take no unique lock, here as on a real queue.
        with self._lock:
            self.chains.append(chain)
            self.jobs.append(Pushed(first.id, chain.jobs[0], first.queue, None, first.priority))
        return first.id

    def push_batch(self, batch: PendingBatch, batch_id: str) -> Batch:
        from app.queue.bus.batch import Batch, member_rows

        total = len(member_rows(batch_id, batch.jobs, batch.queue))  # checked as dispatched
        with self._lock:
            self.batches.append(batch)
        return Batch(batch_id, batch.batch_name, total, total, 0, (), None, None, None,
                     batch.allows_failures)

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
        if self.jobs or self.batches:
            raise AssertionError(f"expected nothing to be pushed; {self._summary()}")

    def assert_chained(self, expected: Sequence[type[Job] | Job]) -> None:
        """A chain of these jobs, in this order, was dispatched: each item a job class (any
        job of it) or a job (one of its class with the same arguments)."""
        if not any(len(chain.jobs) == len(expected) and all(
                _matches(job, want) for job, want in zip(chain.jobs, expected, strict=True))
                for chain in self.chains):
            wanted = " -> ".join(_name(want) for want in expected)
            raise AssertionError(f"expected the chain {wanted} to be dispatched; "
                                 f"{self._chains_summary()}")

    def assert_batched(self, predicate: Callable[[PendingBatch], Any] | None = None) -> None:
        """A batch (that `predicate` accepts: it gets the PendingBatch, with `.jobs`,
        `.batch_name`, `.callbacks`, `.queue`, `.allows_failures`) was dispatched."""
        if not any(predicate is None or predicate(batch) for batch in self.batches):
            what = "a batch matching the predicate" if predicate else "a batch"
            raise AssertionError(f"expected {what} to be dispatched; {self._batches_summary()}")

    # ------------------------------------------------------------------------- messages

    def _chains_summary(self) -> str:
        if not self.chains:
            return f"no chain was dispatched ({self._summary()})"
        return "chains dispatched instead: " + "; ".join(
            " -> ".join(type(job).__qualname__ for job in chain.jobs) for chain in self.chains)

    def _batches_summary(self) -> str:
        if not self.batches:
            return f"no batch was dispatched ({self._summary()})"
        return "batches dispatched instead: " + "; ".join(
            f"{batch.batch_name or '(no name)'!r} of {len(batch.jobs)} job(s)"
            for batch in self.batches)

    def _summary(self) -> str:
        if not self.jobs:
            return "nothing was pushed"
        return "pushed instead: " + self._describe([p.job for p in self.jobs], with_queue=True)

    def _describe(self, jobs: Sequence[Job], with_queue: bool = False) -> str:
        queues = {id(p.job): p.queue for p in self.jobs}
        shown = []
        for job in jobs[:10]:
            args = ", ".join(f"{k}={v!r}" for k, v in _arguments(job).items())
            where = f" on {queues.get(id(job))!r}" if with_queue else ""
            shown.append(f"{type(job).__qualname__}({args}){where}")
        more = f" and {len(jobs) - 10} more" if len(jobs) > 10 else ""
        return "; ".join(shown) + more


def _matches(job: Job, want: type[Job] | Job) -> bool:
    if isinstance(want, type):
        return isinstance(job, want)
    return type(job) is type(want) and _arguments(job) == _arguments(want)


def _arguments(job: Job) -> dict[str, Any]:
    return {k: v for k, v in vars(job).items() if not k.startswith("_") and k not in RUNTIME_STATE}


def _name(want: type[Job] | Job) -> str:
    return want.__qualname__ if isinstance(want, type) else type(want).__qualname__


def active() -> FakeQueue | None:
    """The fake in force, if any (dispatch records into it instead of enqueuing)."""
    fake = fakes.active()
    return fake if isinstance(fake, FakeQueue) else None


@contextlib.contextmanager
def fake_queue() -> Iterator[FakeQueue]:
    """Record every dispatch of the block in a FakeQueue instead of enqueuing it."""
    fake = FakeQueue()
    previous = fakes.install(fake)
    try:
        yield fake
    finally:
        fakes.install(previous)


__all__ = ["FakeQueue", "Pushed", "active", "fake_queue"]
