"""One attempt of one job, and what should happen next. Shared by the worker and dispatch_sync.

Nothing here touches the database: the caller records the outcome.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import reprlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.queue import redaction
from app.queue.backoff import backoff_delay
from app.queue.errors import Abort, InvalidJobOption, JobCancelled, JobTimeout, RetryAfter
from app.queue.job import Job
from app.queue.pipeline import run_through_middleware
from app.queue.settings import MAX_DELAY, Defaults


class Outcome(enum.StrEnum):
    DONE = "DONE"
    RETRY = "RETRY"
    FAIL = "FAIL"
    LIMITED = "LIMITED"
    """A middleware held the job back: released with a delay, its attempt not counted."""


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: Outcome
    delay: float = 0.0
    error: BaseException | None = None
    error_text: str | None = None
    """Full traceback text, for failed_jobs.exception and jobs.last_error."""
    duration: float = 0.0


def tries_of(job: Job, defaults: Defaults) -> int:
    """The job's attempts in all; `InvalidJobOption` if its `tries` is not a whole number."""
    tries = job.tries
    if tries is None:
        return defaults.tries
    if type(tries) is int:  # the usual case: one check per job
        return tries
    if isinstance(tries, int) and not isinstance(tries, bool):
        return tries
    raise invalid_option(job, "tries", tries, "a whole number of attempts")


def backoff_of(job: Job) -> float | Sequence[float] | None:
    """The job's `backoff` (read after a failed attempt only); `InvalidJobOption` unless it
    is None, a number of seconds, or a list of them."""
    backoff = job.backoff
    if backoff is None or is_seconds(backoff):
        return backoff
    if isinstance(backoff, list | tuple) and all(is_seconds(value) for value in backoff):
        return backoff
    raise invalid_option(job, "backoff", backoff, "a number of seconds or a list of them")


def is_seconds(value: object) -> bool:
    """A delay the database can store: NaN and infinity fail the range check too."""
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and 0 <= value <= MAX_DELAY


def invalid_option(job: Job, name: str, value: object, expected: str) -> InvalidJobOption:
    return InvalidJobOption(f"{type(job).__qualname__}.{name} must be {expected}, not "
                            f"{reprlib.repr(value)} ({type(value).__name__})")


def timeout_of(job: Job, defaults: Defaults) -> float:
    return float(job.timeout) if job.timeout is not None else defaults.timeout


_loops = threading.local()


def _event_loop() -> asyncio.AbstractEventLoop:
    """One event loop per thread, reused: creating a loop per job costs more than the job."""
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _loops.loop = loop
    return loop


def call_handle(job: Job, timeout: float) -> None:
    """Run `handle()`; an `async def` one runs on this thread's loop as a task, cancelled at
    `timeout` or when the job is cancelled (request_cancel). (The worker runs async jobs
    without middleware on its own shared loop instead: app/queue/event_loop.py.)"""
    outcome = start_attempt(job)
    if inspect.isawaitable(outcome):
        awaitable = outcome if timeout <= 0 else asyncio.wait_for(outcome, timeout)
        loop = _event_loop()
        task = job._task = asyncio.ensure_future(awaitable, loop=loop)
        if job._cancel_requested:  # asked before the task existed
            task.cancel()
        try:
            loop.run_until_complete(task)
        except TimeoutError:
            raise timeout_error(job, timeout) from None
        finally:
            job._task = None


def request_cancel(job: Job) -> bool:
    """From another thread: cancel the task of `job`'s `async def` handler (asyncio wakes
    its loop for that). False if no task runs yet; call_handle then cancels it at once."""
    job._cancel_requested = True
    task = job._task
    if task is None:
        return False
    task.get_loop().call_soon_threadsafe(task.cancel)
    return True


def uses_middleware(job: Job) -> bool:
    """Does the job's class override middleware()? (One attribute read: jobs without any
    take the path they took before middleware existed.)"""
    return type(job).middleware is not Job.middleware


def start_attempt(job: Job) -> Any:
    """Forget what an earlier attempt's handle() asked for, and call it: an `async def` one
    returns its coroutine, not yet started."""
    job._released_delay = None
    job._fail_reason = None
    return job.handle()


def timeout_error(job: Job, timeout: float) -> JobTimeout:
    return JobTimeout(f"{type(job).__qualname__} ran past its timeout of {timeout:g}s")


def run_attempt(job: Job, defaults: Defaults) -> AttemptResult:
    """Call the job once and decide DONE / RETRY (with delay) / FAIL.

    Catches BaseException on purpose: a job that calls sys.exit() or raises
    KeyboardInterrupt fails like any other job instead of taking the worker down with it.
    """
    started = time.perf_counter()
    timeout = timeout_of(job, defaults)
    try:
        if not uses_middleware(job):  # the path jobs took before middleware
            call_handle(job, timeout)
        else:
            run_through_middleware(job, lambda: call_handle(job, timeout))
    except BaseException as error:  # noqa: BLE001 - user code; see docstring
        return decide_after_error(job, error, defaults, time.perf_counter() - started)
    return decide_after_return(job, defaults, time.perf_counter() - started)


def decide_after_return(job: Job, defaults: Defaults, duration: float) -> AttemptResult:
    if job._fail_reason is not None:
        abort = Abort(job._fail_reason)
        reason = job._fail_reason
        if redaction.redacts_errors(job):  # fail(str(exc)) quotes as much as the exception
            redaction.mark(abort)
            reason = redaction.REDACTED
        return AttemptResult(Outcome.FAIL, error=abort, error_text=f"Abort: {reason}",
                             duration=duration)
    if job._limited_delay is not None:
        return AttemptResult(Outcome.LIMITED, delay=job._limited_delay,
                             error_text="held back by a limit", duration=duration)
    if job._released_delay is not None:
        return AttemptResult(Outcome.RETRY, delay=job._released_delay,
                             error_text="released by the job", duration=duration)
    return AttemptResult(Outcome.DONE, duration=duration)


def decide_after_error(job: Job, error: BaseException, defaults: Defaults,
                       duration: float) -> AttemptResult:
    """FAIL or RETRY (with its delay) after `error`. Never raises: a worker given no result
    holds its job for good and cannot stop, so whatever goes wrong deciding fails the job."""
    text = traceback_text(error, job)
    try:
        return retry_or_fail(job, error, text, defaults, duration)
    except InvalidJobOption as bad:
        return AttemptResult(Outcome.FAIL, error=bad, duration=duration,
                             error_text=f"InvalidJobOption: {bad}\n\nThe attempt's error:\n{text}")
    except BaseException as bug:  # noqa: BLE001 - a bug of ours, or a hostile job's attribute
        return AttemptResult(Outcome.FAIL, error=error, duration=duration,
                             error_text=f"{text}\n\nDeciding whether to retry raised:\n"
                                        f"{traceback_text(bug, job)}")


def retry_or_fail(job: Job, error: BaseException, text: str, defaults: Defaults,
                  duration: float) -> AttemptResult:
    if isinstance(error, Abort | JobCancelled) or job._fail_reason is not None:
        return AttemptResult(Outcome.FAIL, error=error, error_text=text, duration=duration)
    if job.attempts >= tries_of(job, defaults):
        return AttemptResult(Outcome.FAIL, error=error, error_text=text, duration=duration)
    if isinstance(error, RetryAfter):
        delay = error.seconds
    else:
        delay = backoff_delay(job.attempts, backoff_of(job), defaults.backoff)
    return AttemptResult(Outcome.RETRY, delay=delay, error=error, error_text=text,
                         duration=duration)


def traceback_text(error: BaseException, job: Job | None = None) -> str:
    """The traceback of `error`, redacted if `job` is an encrypted job's (redaction.py)."""
    try:
        return redaction.error_text(job, error)
    except Exception:  # noqa: BLE001 - an exception whose printing raises in turn
        return f"{type(error).__name__}: <its traceback could not be printed>"


def call_failed_hook(job: Job, error: BaseException) -> str | None:
    """Call `job.failed(error)`; if the hook itself raises, return its traceback text."""
    try:
        job.failed(error)
    except BaseException as hook_error:  # noqa: BLE001 - user code
        return traceback_text(hook_error, job)
    return None


__all__ = [  # Defaults lives beside the settings now; imported from here too
    "AttemptResult", "Defaults", "Outcome", "call_failed_hook", "call_handle",
    "decide_after_error", "decide_after_return", "request_cancel", "run_attempt",
    "start_attempt", "timeout_of", "tries_of", "uses_middleware",
]
