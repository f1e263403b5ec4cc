"""Queue events (SPEC §10): what happened to a job, a batch or a worker, for listeners of yours.

    from app.queue import events

    @events.on(events.JobFailed)
    def alert(event: events.JobFailed) -> None:
        pager.send(f"{event.class_name} {event.job_id} failed: {event.error}")

Register listeners in `app/providers.py`, whose `boot()` runs once per process on the queue's
first use (Laravel's AppServiceProvider). A listener runs in the thread that fired the event
(a job thread, the worker's loop, the caller of dispatch). One that raises is logged in one
line and changes nothing else: the job's outcome is already decided and recorded.

Firing costs one dict lookup when nobody listens, so the worker fires freely.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger("skiplock.events")


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every queue event."""


@dataclass(frozen=True, slots=True)
class JobEvent(Event):
    job_id: str
    class_name: str
    queue: str
    attempt: int = 0
    job: Any = None
    """The job instance, where the process that fires the event has one."""


@dataclass(frozen=True, slots=True)
class JobQueued(JobEvent):
    """dispatch() or dispatch_many() wrote the job (with `connection=`, in the caller's
    transaction, which may still roll back). Fired in the dispatching process."""

    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class JobProcessing(JobEvent):
    """A worker is about to call handle()."""


@dataclass(frozen=True, slots=True)
class JobProcessed(JobEvent):
    """handle() returned: the job is done."""

    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class JobReleased(JobEvent):
    """The attempt ended without success and the job waits for another one."""

    duration: float = 0.0
    delay: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class JobExceptionOccurred(JobEvent):
    """handle() raised (whatever comes next: a retry or a failure)."""

    duration: float = 0.0
    error: str | None = None
    exception: BaseException | None = None


@dataclass(frozen=True, slots=True)
class JobFailed(JobEvent):
    """The job failed for good and is in failed_jobs."""

    duration: float = 0.0
    error: str | None = None
    exception: BaseException | None = None


@dataclass(frozen=True, slots=True)
class BatchFinished(Event):
    batch_id: str
    name: str | None = None
    failed_jobs: int = 0


@dataclass(frozen=True, slots=True)
class WorkerEvent(Event):
    worker_id: str
    name: str
    queues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WorkerStarting(WorkerEvent):
    pass


@dataclass(frozen=True, slots=True)
class WorkerStopping(WorkerEvent):
    reason: str = ""


@dataclass(frozen=True, slots=True)
class QueueBusy(Event):
    """queue:monitor found a queue over its threshold."""

    queue: str
    size: int
    oldest_wait: float | None = None


@dataclass(frozen=True, slots=True)
class LongWaitDetected(Event):
    """A queue's oldest pending job has waited longer than its QUEUE_WAIT_THRESHOLDS entry.
    Fired with the notification, so once per queue per QUEUE_NOTIFY_COOLDOWN across every
    process, in the one that sends it (schedule:work, supervise, queue:monitor --notify)."""

    connection: str
    queue: str
    seconds: float


E = TypeVar("E", bound=Event)
Listener = Callable[[Any], object]

_listeners: dict[type[Event], list[Listener]] = {}
_lock = threading.Lock()


def listen(event: type[E], listener: Callable[[E], object]) -> None:
    """Call `listener(event)` whenever an event of that class (or a subclass) is fired."""
    if not (isinstance(event, type) and issubclass(event, Event)):
        raise TypeError(f"listen() takes an event class from app.queue.events, not {event!r}")
    if not callable(listener):
        raise TypeError(f"a listener must be callable, not {type(listener).__name__}")
    with _lock:
        # Registered under the class and every subclass of it, so firing is one lookup.
        for cls in (event, *_subclasses(event)):
            _listeners.setdefault(cls, []).append(listener)


def on(event: type[E]) -> Callable[[Callable[[E], object]], Callable[[E], object]]:
    """Decorator form of listen()."""
    def register(listener: Callable[[E], object]) -> Callable[[E], object]:
        listen(event, listener)
        return listener
    return register


def listening() -> bool:
    """Whether any listener is registered: the worker skips its events per job without."""
    return bool(_listeners)


def has_listeners(event: type[Event]) -> bool:
    """For callers that would build an event only to fire it at nobody."""
    return event in _listeners


def fire(event: Event) -> None:
    """Call every listener of the event's class; a listener that raises is logged, once
    each time, and the others still run."""
    listeners = _listeners.get(type(event))
    if not listeners:
        return
    for listener in list(listeners):
        try:
            listener(event)
        except Exception as exc:  # noqa: BLE001 - a listener of the user's
            name = getattr(listener, "__qualname__", repr(listener))
            log.error("listener %s of %s raised %s: %s", name, type(event).__name__,
                      type(exc).__name__, exc)


def forget_all() -> None:
    """Remove every listener (for tests)."""
    with _lock:
        _listeners.clear()


def _subclasses(cls: type) -> list[type]:
    found = []
    sub: type
    for sub in cls.__subclasses__():
        found.extend([sub, *_subclasses(sub)])
    return found


__all__ = [
    "BatchFinished", "Event", "JobEvent", "JobExceptionOccurred", "JobFailed", "JobProcessed",
    "JobProcessing", "JobQueued", "JobReleased", "LongWaitDetected", "QueueBusy", "WorkerEvent",
    "WorkerStarting", "WorkerStopping", "fire", "forget_all", "has_listeners", "listen",
    "listening", "on",
]
