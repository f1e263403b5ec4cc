"""Why the queue is unhealthy, if it is: what GET /api/health answers 503 with."""

from __future__ import annotations

from collections.abc import Sequence

from app.queue.admin import QueueStats, WorkerInfo, WorkerState


def problems(stats: Sequence[QueueStats], workers: Sequence[WorkerInfo],
             max_wait: float) -> list[str]:
    """One sentence per problem. Paused queues are left out: nobody claiming from them, and
    their jobs waiting, is what pausing them asked for."""
    served = served_queues(workers)
    found = []
    for queue in stats:
        if queue.paused or not queue.pending:
            continue
        if queue.queue not in served:
            found.append(f"queue {queue.queue!r} has {queue.pending} pending job(s) and no "
                         "live worker")
        if queue.oldest_pending_age is not None and queue.oldest_pending_age > max_wait:
            found.append(f"queue {queue.queue!r}: the oldest pending job has waited "
                         f"{queue.oldest_pending_age:.0f}s (QUEUE_HEALTH_MAX_WAIT is "
                         f"{max_wait:g}s)")
    return found


def served_queues(workers: Sequence[WorkerInfo]) -> set[str]:
    """The queues some live worker claims from."""
    return {queue for w in workers if w.state is WorkerState.LIVE for queue in w.queues}
