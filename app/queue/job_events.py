"""The job and worker events of app.queue.events, built and fired where they happen (dispatch,
the worker). Each is built only when someone listens for it: with no listener at all (the
usual worker), a job costs one call of events.listening() per event."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.queue import events, redaction
from app.queue.connections.records import ClaimedJob
from app.queue.job import Job
from app.queue.redaction import REDACTED
from app.queue.runner import AttemptResult, Outcome
from app.queue.text import storable

OUTCOME_EVENTS: dict[Outcome, type[events.JobEvent]] = {
    Outcome.DONE: events.JobProcessed,
    Outcome.RETRY: events.JobReleased,
    Outcome.LIMITED: events.JobReleased,
    Outcome.FAIL: events.JobFailed,
}


def error_line(error: BaseException | None) -> str | None:
    """`Name: first line of the message`, as the worker's lines and events show an error."""
    if error is None:
        return None
    name = type(error).__name__
    if redaction.is_marked(error):
        return f"{name}: {REDACTED}"
    try:
        text = str(error).strip().splitlines()
    except Exception:  # noqa: BLE001 - a job's exception whose __str__ raises
        return f"{name}: <its message could not be printed>"
    return f"{name}: {storable(text[0])}" if text else name


def queued(jobs: Sequence[Job], ids: Sequence[str], queue_of: Callable[[Job], str],
           delay: float = 0.0) -> None:
    if not events.has_listeners(events.JobQueued):
        return
    for job, id_ in zip(jobs, ids, strict=True):
        events.fire(events.JobQueued(id_, type(job).__qualname__, queue_of(job), 0, job,
                                     delay=delay))


def processing_heard() -> bool:
    """Does anyone listen for JobProcessing? (The worker starts an async job on its event
    loop's thread only when not: a listener runs where the job starts.)"""
    return events.listening() and events.has_listeners(events.JobProcessing)


def processing(claimed: ClaimedJob, job: Job) -> None:
    if processing_heard():
        events.fire(events.JobProcessing(claimed.id, type(job).__qualname__, claimed.queue,
                                         claimed.attempts, job))


def outcome(claimed: ClaimedJob, class_name: str, job: Job | None,
            result: AttemptResult) -> None:
    """After the outcome is written: JobExceptionOccurred if handle() raised, then
    JobProcessed, JobReleased or JobFailed."""
    if not events.listening():
        return
    kind = OUTCOME_EVENTS[result.outcome]
    raised = result.error is not None and events.has_listeners(events.JobExceptionOccurred)
    if not (raised or events.has_listeners(kind)):
        return
    common = (claimed.id, class_name, claimed.queue, claimed.attempts, job)
    error = error_line(result.error) if result.error is not None else result.error_text
    if raised:
        events.fire(events.JobExceptionOccurred(*common, duration=result.duration, error=error,
                                                exception=result.error))
    if kind is events.JobProcessed:
        events.fire(events.JobProcessed(*common, duration=result.duration))
    elif kind is events.JobReleased:
        events.fire(events.JobReleased(*common, duration=result.duration, delay=result.delay,
                                       error=error))
    else:
        events.fire(events.JobFailed(*common, duration=result.duration, error=error,
                                     exception=result.error))


def worker_starting(worker_id: str, name: str, queues: tuple[str, ...]) -> None:
    if events.has_listeners(events.WorkerStarting):
        events.fire(events.WorkerStarting(worker_id, name, queues))


def worker_stopping(worker_id: str, name: str, queues: tuple[str, ...], reason: str) -> None:
    if events.has_listeners(events.WorkerStopping):
        events.fire(events.WorkerStopping(worker_id, name, queues, reason=reason))
