"""One asyncio event loop per worker process, on a thread of its own, running every `async def`
job as a task: a slot waiting on I/O holds a task, not a thread.

Before, each job thread ran its async jobs on a loop of its own, one `run_until_complete` (and
an `asyncio.wait_for` task) per job: 2-3x the plain job's CPU for a no-op, and an I/O-bound
job held its thread for its whole wait. Here a job thread only decodes the job and calls
`handle()`, which returns a coroutine at once; the task runs on the shared loop and posts its
result the way a job thread does.

Timeouts: the loop cancels a task at its timeout (a JobTimeout, as `wait_for` gave). A job that
blocks the loop itself (a busy loop or a blocking call in an `async def`) is stopped by the
worker's Timeouts like a sync job, ASYNC_MARGIN later: `JobTimeout` raised in the loop's
thread, but only while that job's task is the one running there (`Slot.task`), so a job
blocking the loop never makes another one fail; blocked in C, it gets its worker replaced.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from app.queue.errors import JobTimeout
from app.queue.job import Job
from app.queue.runner import (
    AttemptResult,
    Defaults,
    decide_after_error,
    decide_after_return,
    timeout_error,
)
from app.queue.slot import Slot
from app.queue.timeouts import Timeouts

Post = Callable[[Slot, AttemptResult], None]


class JobLoop:
    """The worker's event loop thread, started with the first async job."""

    def __init__(self, defaults: Defaults, name: str) -> None:
        self.defaults = defaults
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, slot: Slot, job: Job, coroutine: Coroutine[Any, Any, Any], timeout: float,
            post: Post) -> None:
        """From a job thread: run `coroutine` (the job's handle()) as a task; `post` gets its
        result. The job thread is free as soon as this returns."""
        loop = self.loop or self._start()
        loop.call_soon_threadsafe(self._begin, slot, job, coroutine, timeout, post)

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self.loop is None:
                loop = asyncio.new_event_loop()
                self.thread = threading.Thread(target=self._serve, args=(loop,),
                                               name=self.name, daemon=True)
                self.thread.start()
                self.loop = loop
            return self.loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        while True:
            try:
                loop.run_forever()
                return
            except JobTimeout:
                # A backstop timeout that reached the loop just after its task's step ended:
                # the task it was meant for is cancelled by its own timer instead.
                continue

    def _begin(self, slot: Slot, job: Job, coroutine: Coroutine[Any, Any, Any],
               timeout: float, post: Post) -> None:
        loop = asyncio.get_running_loop()
        task = loop.create_task(coroutine)
        timed_out: list[bool] = []
        timer = loop.call_later(timeout, self._time_out, task, timed_out) if timeout > 0 \
            else None
        with slot.guard:  # the backstop now raises here, where this job's code runs
            slot.task = task
            slot.thread_id = threading.get_ident()
            if slot.cancelled:  # cancelled (queue:cancel) before its task existed
                task.cancel()
        started = time.perf_counter()

        def finish(done: asyncio.Task[Any]) -> None:
            if timer is not None:
                timer.cancel()
            Timeouts.leave_user_code(slot)
            post(slot, self._result(job, done, timed_out, timeout,
                                    time.perf_counter() - started))

        task.add_done_callback(finish)

    @staticmethod
    def _time_out(task: asyncio.Task[Any], timed_out: list[bool]) -> None:
        timed_out.append(True)
        task.cancel()

    def _result(self, job: Job, task: asyncio.Task[Any], timed_out: list[bool],
                timeout: float, duration: float) -> AttemptResult:
        if task.cancelled():
            error: BaseException = (timeout_error(job, timeout) if timed_out
                                    else asyncio.CancelledError())
        else:
            error = task.exception()  # type: ignore[assignment]
            if error is None:
                return decide_after_return(job, self.defaults, duration)
        return decide_after_error(job, error, self.defaults, duration)

    def stop(self, wait: bool) -> None:
        """Stop the loop (its tasks have ended: the worker waited for them); without `wait`
        (a job is stuck and the process is about to be replaced), do not join it."""
        if self.loop is None or self.thread is None:
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if wait:
            self.thread.join()
            self.loop.close()


