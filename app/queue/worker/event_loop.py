"""One asyncio event loop per worker process, on a thread of its own, running every `async def`
job as a task: a slot waiting on I/O holds a task, not a thread.

Before, each job thread ran its async jobs on a loop of its own, one `run_until_complete` (and
an `asyncio.wait_for` task) per job: 2-3x the plain job's CPU for a no-op, and an I/O-bound
job held its thread for its whole wait. Here the task runs on the shared loop and posts its
result the way a job thread does. The job is decoded and its `handle()` called (which returns
a coroutine at once) on the loop's own thread, every job of a claim in one hand-over
(`start_each`): a thread hop and a wake-up of the loop per job cost an async no-op more CPU
than a plain one. Only a class not met yet (its module may need importing) goes through a job
thread first (`run`).

Timeouts: the loop cancels a task at its timeout (a JobTimeout, as `wait_for` gave), from one
timer for the earliest deadline (`Deadlines`) rather than a timer per task. A job that
blocks the loop itself (a busy loop or a blocking call in an `async def`) is stopped by the
worker's Timeouts like a sync job, ASYNC_MARGIN later: `JobTimeout` raised in the loop's
thread, but only while that job's task is the one running there (`Slot.task`), so a job
blocking the loop never makes another one fail; blocked in C, it gets its worker replaced.
"""

from __future__ import annotations

import asyncio
import itertools
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
from app.queue.worker.slot import Slot
from app.queue.worker.timeouts import Timeouts

Post = Callable[[Slot, AttemptResult], None]
Arm = Callable[[Slot, Job, bool], None]


class Deadlines:
    """The timeouts of the loop's tasks, on one asyncio timer: the earliest deadline's.

    A TimerHandle per task, scheduled and cancelled, cost ~7 us a task (as much as the task
    itself: create, run, done callback). Tasks with the same timeout reach their deadlines
    in the order they started, so each timeout keeps its tasks in a dict in insertion order:
    the first entry is the next to expire, and an ending task leaves its dict in O(1)."""

    def __init__(self) -> None:
        self._by_timeout: dict[float, dict[asyncio.Task[Any], float]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self.expired: set[asyncio.Task[Any]] = set()
        """Tasks cancelled at their deadline (taken out by the result of each)."""

    def add(self, task: asyncio.Task[Any], timeout: float) -> None:
        loop = task.get_loop()
        deadline = loop.time() + timeout
        self._by_timeout.setdefault(timeout, {})[task] = deadline
        if self._timer is None or deadline < self._timer.when():
            self._schedule(loop, deadline)

    def discard(self, task: asyncio.Task[Any], timeout: float) -> None:
        tasks = self._by_timeout.get(timeout)
        if tasks is not None:
            tasks.pop(task, None)

    def _schedule(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(deadline, self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        earliest = float("inf")
        for tasks in self._by_timeout.values():
            due = list(itertools.takewhile(lambda entry: entry[1] <= now, tasks.items()))
            for task, _ in due:
                del tasks[task]
                self.expired.add(task)
                task.cancel()
            if tasks:
                earliest = min(earliest, next(iter(tasks.values())))
        if earliest != float("inf"):
            self._schedule(loop, earliest)


class JobLoop:
    """The worker's event loop thread, started with the first async job."""

    def __init__(self, defaults: Defaults, name: str) -> None:
        self.defaults = defaults
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.deadlines = Deadlines()

    def run(self, slot: Slot, job: Job, coroutine: Coroutine[Any, Any, Any], timeout: float,
            post: Post) -> None:
        """From a job thread: run `coroutine` (the job's handle()) as a task; `post` gets its
        result. The job thread is free as soon as this returns."""
        loop = self.loop or self._start()
        loop.call_soon_threadsafe(self.begin, slot, job, coroutine, timeout, post)

    def start_each(self, slots: list[Slot], start: Callable[[Slot], None]) -> None:
        """From the main thread: `start(slot)` for each slot on the loop's thread, all in one
        wake-up of the loop. `start` decodes the job and calls `begin`; it must not raise."""
        loop = self.loop or self._start()
        loop.call_soon_threadsafe(self._start_each, slots, start)

    @staticmethod
    def _start_each(slots: list[Slot], start: Callable[[Slot], None]) -> None:
        for slot in slots:
            start(slot)

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

    def begin(self, slot: Slot, job: Job, coroutine: Coroutine[Any, Any, Any],
              timeout: float, post: Post, arm: Arm | None = None) -> None:
        """On the loop's thread: run `coroutine` as a task. `arm` (the worker's timeouts, if
        no job thread armed them) is called under the slot's guard, with the task set: a
        cancel then finds the task, and the backstop finds it not running yet."""
        loop = asyncio.get_running_loop()
        task = loop.create_task(coroutine)
        if timeout > 0:
            self.deadlines.add(task, timeout)
        with slot.guard:  # the backstop now raises here, where this job's code runs
            if arm is not None:
                arm(slot, job, True)
            slot.task = task
            slot.thread_id = threading.get_ident()
            if slot.cancelled:  # cancelled (queue:cancel) before its task existed
                task.cancel()
        started = time.perf_counter()

        def finish(done: asyncio.Task[Any]) -> None:
            if timeout > 0:
                self.deadlines.discard(done, timeout)
            Timeouts.leave_user_code(slot)
            post(slot, self._result(job, done, timeout, time.perf_counter() - started))

        task.add_done_callback(finish)

    def _result(self, job: Job, task: asyncio.Task[Any], timeout: float,
                duration: float) -> AttemptResult:
        timed_out = task in self.deadlines.expired
        self.deadlines.expired.discard(task)
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


