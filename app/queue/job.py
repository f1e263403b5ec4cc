"""`Job`: what users subclass. Class attributes configure it; `handle()` does the work."""

from __future__ import annotations

import datetime as dt
import inspect
import math
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from app.queue.errors import QueueError
from app.queue.settings import MAX_DELAY


class RunControl(Protocol):
    """What a running job can ask of whoever runs it (the worker, or dispatch_sync)."""

    id: str
    """The worker's id (limits held by a job live as long as its heartbeat)."""

    def progress(self, job_id: str, percent: float, message: str | None) -> None: ...


class Job:
    """A unit of background work.

    Subclasses set `queue`, `tries`, `backoff`, `timeout`, `priority` (None means the
    configured default) and implement `handle()` (plain or `async def`). The constructor's
    arguments are stored as JSON, so keep them to JSON-friendly values; `encrypted = True`
    stores them encrypted with APP_KEY.
    """

    queue: ClassVar[str | None] = None
    tries: ClassVar[int | None] = None
    backoff: ClassVar[float | Sequence[float] | None] = None
    timeout: ClassVar[float | None] = None
    priority: ClassVar[int] = 0
    encrypted: ClassVar[bool] = False
    redact_errors: ClassVar[bool] = True
    """For an `encrypted` job: replace its exceptions' messages wherever Skiplock stores or
    prints them, as they often quote the secret arguments. False shows them (redaction.py)."""
    unique_for: ClassVar[float | None] = None
    """Seconds a unique job holds its lock at most: while one is pending, delayed or running,
    dispatching a duplicate (same class, same unique_id()) enqueues nothing. None: not unique."""
    unique_until: ClassVar[str | None] = None
    """"processing": free the lock when the job starts. None: when it succeeds or fails for
    good (or after unique_for, whichever comes first)."""

    job_id: str | None = None
    attempts: int = 0
    # Set by the worker on members of a batch or chain, and on their callback jobs; a catch
    # job also gets the failed job's id and its error's one-line summary (SPEC §9).
    batch_id: str | None = None
    chain_id: str | None = None
    failed_job_id: str | None = None
    error: str | None = None

    # What handle() asked for; read by the runner after handle() returns.
    _released_delay: float | None = None
    _fail_reason: str | None = None
    _limited_delay: float | None = None
    """Set by a middleware that held the job back (app.queue.middleware.hold_back)."""
    _control: RunControl | None = None
    # Cancellation of an `async def` handler, asked from the worker's main thread (see
    # runner.request_cancel): the flag covers a request that comes before the task exists.
    _cancel_requested: bool = False
    _task: Any = None
    _given_id: str | None = None
    """The id dispatch gave this job (give_id): a `job_id` equal to it is Skiplock's own, any
    other that the job holds before it ever ran is the user's, refused at dispatch."""

    def handle(self) -> Any:
        raise NotImplementedError(f"{type(self).__qualname__} must implement handle()")

    def failed(self, error: BaseException) -> None:
        """Called once, after the last attempt failed. Override to clean up or alert."""

    def unique_id(self) -> str:
        """What tells duplicates apart within the class (only if `unique_for` is set): jobs
        of one class with the same unique_id are duplicates. Default: one per class."""
        return ""

    def middleware(self) -> list[Any]:
        """What `handle()` runs inside, outermost first: objects with `handle(job, next)`
        (see app.queue.middleware). None by default."""
        return []

    # ------------------------------------------------------------------ inside handle()

    def release(self, delay: float = 0) -> None:
        """Put this job back on its queue after `delay` seconds, without failing it."""
        seconds = float(delay)
        if not math.isfinite(seconds) or seconds > MAX_DELAY:  # NaN would pass max()
            raise ValueError(f"release delay must be a finite number of seconds up to "
                             f"{MAX_DELAY:.0f} (100 years), not {delay!r}")
        self._released_delay = max(seconds, 0.0)

    def fail(self, reason: str | BaseException = "failed by the job") -> None:
        """Fail now: no more attempts; the job moves to `failed_jobs`."""
        self._fail_reason = str(reason)

    def progress(self, percent: float, message: str | None = None) -> None:
        """Record how far along this job is (0 to 100); shown by `queue:job ID`."""
        if not 0 <= percent <= 100:
            raise ValueError(f"progress percent must be between 0 and 100, not {percent!r}")
        if self._control is not None and self.job_id is not None:
            self._control.progress(self.job_id, float(percent), message)

    def batch(self) -> Any:
        """The `Batch` this job belongs to, read now (so `.cancelled` is current), or None."""
        if self.batch_id is None:
            return None
        return SERVICES.find_batch(self.batch_id)

    # ----------------------------------------------------------------------- dispatching

    @classmethod
    def dispatch(cls, *args: Any, **kwargs: Any) -> str | None:
        """`SendWelcomeEmail.dispatch(7, "a@b.c")` is `dispatch(SendWelcomeEmail(7, "a@b.c"))`."""
        return SERVICES.dispatch(cls(*args, **kwargs))

    @classmethod
    def class_path(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self.job_id or 'not dispatched'}>"


def not_installed(*args: Any) -> Any:
    raise QueueError("the queue is not loaded: import app.queue")


@dataclass
class JobServices:
    """What a job reaches above its own layer: dispatch (Job.dispatch) and batches
    (Job.batch). The dispatcher imports this module, so this module cannot import the
    dispatcher: app.queue installs both as it is imported (and any import of this module
    imports app.queue first)."""

    dispatch: Callable[[Job], str | None] = not_installed
    find_batch: Callable[[str], Any] = not_installed


SERVICES = JobServices()

Delay = float | int | dt.timedelta | dt.datetime


def give_id(job: Job, job_id: str | None) -> None:
    """Set the id dispatch gave `job`, remembered as Skiplock's (see `_given_id`)."""
    job.job_id = job._given_id = job_id


def is_behaviour(value: object) -> bool:
    """A method, property or other descriptor: code, never an argument's value."""
    return callable(value) or hasattr(type(value), "__get__")


def public_names_of_job() -> tuple[frozenset[str], frozenset[str]]:
    """(runtime state, behaviour) among `Job`'s public names, read from the class itself so
    that a feature adding a method or a field Skiplock sets is covered without a list to keep.
    Runtime state: fields annotated on `Job` that are not `ClassVar`s. The `ClassVar`s
    (`queue`, `tries` …) are the user's options: an instance may set its own."""
    hints = typing.get_type_hints(Job)
    public = [name for name in dir(Job) if not name.startswith("_")]
    state = frozenset(name for name in public
                      if name in hints and typing.get_origin(hints[name]) is not ClassVar)
    behaviour = frozenset(name for name in public
                          if is_behaviour(inspect.getattr_static(Job, name)))
    return state, behaviour


RUNTIME_STATE, BEHAVIOUR = public_names_of_job()
"""Names a job's arguments cannot take: Skiplock sets the first on every job it runs (job_id,
attempts); the second are Job's methods (release, fail, progress …)."""
RESERVED_NAMES = RUNTIME_STATE | BEHAVIOUR
