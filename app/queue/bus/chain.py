"""`chain([...])`: jobs that run one after the other, each once the one before succeeded.

The chain travels with its jobs: the first job's row holds the rest of it (the next steps as
ready-made rows, the catch job, the chain's id) in its `chain` column. The statement that
records a step's success enqueues the next step with the rest (claim_jobs); the one that
records a failure enqueues the catch job (fail_job). Nothing is kept in a process's memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from app.queue import context, fakes
from app.queue.bus.rows import callback_row, ready_row, require_job
from app.queue.connections.records import NewJob
from app.queue.dispatcher import connection_of, new_row, refuse_sync_connection
from app.queue.ids import new_id
from app.queue.job import Job, give_id
from app.queue.names import check_queue_name

if TYPE_CHECKING:
    from app.queue.dispatcher import Transaction


class PendingChain:
    """What `chain([...])` returns: set it up, then `.dispatch()`."""

    def __init__(self, jobs: Iterable[Job]) -> None:
        self.jobs = [require_job(job, "chain()") for job in jobs]
        if not self.jobs:
            raise ValueError("chain() needs at least one job")
        self.queue: str | None = None
        self.catch_job: Job | None = None

    def on_queue(self, queue: str) -> PendingChain:
        """Run every job of the chain, and its catch job, on `queue`."""
        self.queue = check_queue_name(queue)
        return self

    def catch(self, job: Job) -> PendingChain:
        """Dispatched once if a job of the chain fails for good (the rest then never run)."""
        self.catch_job = require_job(job, "catch()")
        return self

    def dispatch(self, connection: Transaction | None = None) -> str:
        """Enqueue the first job (the rest ride in its row); return its id. With
        `connection`, in the caller's transaction, as dispatch() does."""
        if (fake := fakes.active()) is not None:
            return fake.push_chain(self)
        refuse_sync_connection("a chain")
        first, rest = self.rows()
        context.current().store.insert_member(first, None, rest, connection_of(connection))
        give_id(self.jobs[0], first.id)
        return first.id

    def rows(self, batch_id: str | None = None, queue: str | None = None
             ) -> tuple[NewJob, str]:
        """The first job's row and its `chain` column (JSON text): every job checked and
        encoded as dispatch() would, so a bad one enqueues nothing. `queue`: the batch's,
        for a chain in a batch that set none of its own."""
        ctx = context.current()
        chain_id = new_id()
        queue = self.queue or queue
        first, *rest = [new_row(job, queue, None, ctx) for job in self.jobs]
        chain: dict[str, Any] = {"id": chain_id, "next": [ready_row(row) for row in rest]}
        if self.catch_job is not None:
            context_of_catch = {"chain_id": chain_id}
            if batch_id is not None:
                context_of_catch["batch_id"] = batch_id
            chain["catch"] = callback_row(self.catch_job, queue, context_of_catch)
        return first, json.dumps(chain)


def chain(jobs: Iterable[Job]) -> PendingChain:
    """`chain([A(), B(), C()]).on_queue("q").catch(Failed()).dispatch()`: SPEC §9."""
    return PendingChain(jobs)
