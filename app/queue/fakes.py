"""Where dispatch looks for a fake queue in force (`fake_queue()` of app.queue.testing).

The fake lives above the chains and batches it records, and dispatch below them: so the fake
installs itself here as its block starts, and dispatch, chains and batches ask here, knowing
only the three methods they call. One attribute read per dispatch when no fake is in force."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from app.queue.connections.records import UniqueLock
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


class Fake(Protocol):
    """What dispatch, chains and batches hand a fake instead of enqueuing."""

    def push(self, pushed: Pushed) -> str | None:
        """Keep one job; None (nothing kept) for a duplicate of a unique job."""

    def push_chain(self, chain: Any) -> str:
        """Keep a PendingChain as dispatched; the id of its first job."""

    def push_batch(self, batch: Any, batch_id: str) -> Any:
        """Keep a PendingBatch as dispatched; the Batch it would be."""


_active: Fake | None = None


def active() -> Fake | None:
    """The fake in force, if any (dispatch records into it instead of enqueuing)."""
    return _active


def install(fake: Fake | None) -> Fake | None:
    """Put `fake` in force (None: none); return the one it replaces."""
    global _active
    previous, _active = _active, fake
    return previous
