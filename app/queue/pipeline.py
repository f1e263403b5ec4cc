"""The pipeline around `handle()`: `job.middleware()`, outermost first, each calling `next`.

The runner calls `run_through_middleware` only for a class that overrides `Job.middleware`
(one attribute compared): a job without middleware takes the path it took before middleware
existed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from app.queue.errors import Abort, QueueError
from app.queue.job import Job
from app.queue.settings import MAX_DELAY

Next = Callable[[Job], Any]


class MiddlewareError(QueueError, Abort):
    """`middleware()` returned something that is not a list of middleware: the job fails at
    once (retrying would meet the same list), the worker goes on."""


def run_through_middleware(job: Job, handle: Callable[[], Any]) -> None:
    """Call `handle` inside the job's middleware. `handle` runs the job's `handle()` to the
    end (an `async def` one on the worker's event loop): the middleware itself is
    synchronous, and sees one call that returns or raises."""
    job._limited_delay = None
    layers = middleware_of(job)

    def step(index: int) -> Next:
        if index == len(layers):
            return lambda _job: handle()
        return lambda passed: layers[index].handle(passed, step(index + 1))

    step(0)(job)


def middleware_of(job: Job) -> list[Any]:
    name = type(job).__qualname__
    layers = job.middleware()
    if not isinstance(layers, list | tuple):
        raise MiddlewareError(f"{name}.middleware() must return a list, not "
                              f"{type(layers).__name__}")
    for layer in layers:
        if not callable(getattr(layer, "handle", None)):
            raise MiddlewareError(f"{name}.middleware() returned {type(layer).__name__}, which "
                                  "has no handle(job, next) method")
    return list(layers)


def hold_back(job: Job, delay: float) -> None:
    """Put `job` back without running it, for `delay` seconds, and without counting the
    attempt: what a limit does instead of calling `next` (the worker line says LIMITED).
    Refuses what `Job.release()` refuses: a NaN delay could never be stored."""
    seconds = float(delay)
    if not math.isfinite(seconds) or seconds > MAX_DELAY:
        raise ValueError(f"hold_back delay must be a finite number of seconds up to "
                         f"{MAX_DELAY:.0f} (100 years), not {delay!r}")
    job._limited_delay = max(seconds, 0.0)


def worker_of(job: Job) -> str | None:
    """The id of the worker running `job` (None under dispatch_sync): holds live as long as
    its heartbeat does."""
    return getattr(job._control, "id", None)
