"""Ready-made rows: jobs encoded and given their ids at dispatch, stored inside another row
(a chain's next steps, a batch's callbacks) until the database inserts them as they are."""

from __future__ import annotations

import json
from typing import Any

from app.queue import context as queue_context
from app.queue.connections.records import NewJob
from app.queue.dispatcher import new_row
from app.queue.job import Job


def ready_row(row: NewJob, context: dict[str, str] | None = None) -> dict[str, Any]:
    """`row` as the JSON object jsonb_populate_record(NULL::jobs, …) makes a jobs row of.
    `context`: runtime state the job gets when it runs (payload.apply_context)."""
    payload = json.loads(row.payload)
    if context:
        payload["context"] = context
    return {"id": row.id, "queue": row.queue, "payload": payload, "priority": row.priority}


def callback_row(job: Job, queue: str | None, context: dict[str, str]) -> dict[str, Any]:
    """A then/catch/finally_ job, checked and encoded as dispatch() would."""
    return ready_row(new_row(job, queue, None, queue_context.current()), context)


def require_job(job: Any, what: str) -> Job:
    """Callbacks are jobs: a function or lambda cannot travel to another process."""
    if not isinstance(job, Job):
        raise TypeError(f"{what} takes a Job instance, not {type(job).__name__} (a callback "
                        "runs in a worker, so it must be a job it can import)")
    return job
