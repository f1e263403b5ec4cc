"""A providers module for the events tests (APP_PROVIDERS=tests.jobs.providers): its boot()
registers a listener of every job and worker event that notes it in the ledger, and one
listener that raises."""

from __future__ import annotations

import os

import sqlalchemy as sa

from app.queue import events

NOTED = (events.JobQueued, events.JobProcessing, events.JobProcessed, events.JobReleased,
         events.JobFailed, events.JobExceptionOccurred, events.WorkerStarting,
         events.WorkerStopping)


def note(event: events.Event) -> None:
    from app.database import engine

    if isinstance(event, events.JobEvent):
        tag = getattr(event.job, "tag", None)
        text = f"{type(event).__name__} {event.queue} attempt={event.attempt}"
        error = getattr(event, "error", None)
        if error:
            text += f" error={error.splitlines()[0]}"
    else:
        tag, text = "worker", f"{type(event).__name__} {','.join(event.queues)}"
    with engine().begin() as conn:
        conn.execute(sa.text("INSERT INTO ledger (job_id, tag, event, pid) "
                             "VALUES (:job_id, :tag, :event, :pid)"),
                     {"job_id": getattr(event, "job_id", None), "tag": tag, "event": text,
                      "pid": os.getpid()})


def broken(event: events.Event) -> None:
    raise RuntimeError("this listener is broken")


def boot() -> None:
    for kind in NOTED:
        events.listen(kind, note)
    events.listen(events.JobProcessed, broken)
