"""A claimed job on its way through the worker: from claim to recorded outcome."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from app.queue.connections.records import ClaimedJob
from app.queue.job import Job


@dataclass(eq=False, slots=True)
class Slot:
    """One claimed job, or the failed() hook of one (`hook`): the main thread reads what the
    job thread writes here (which thread runs it, its deadline, whether it is in user code)."""

    claimed: ClaimedJob
    job: Job | None = None
    class_name: str = "?"
    thread_id: int | None = None
    deadline: float | None = None
    timeout: float = 0.0
    in_user_code: bool = False
    interrupted: bool = False
    stuck: bool = False
    """Interrupted, and still in user code after the grace: blocked outside Python."""
    hook: bool = False
    cancelled: bool = False
    """Cancelled (queue:cancel) before or while it ran: recorded as cancelled, never retried."""
    task: asyncio.Task[Any] | None = None
    """An async job's task on the worker's event loop (app/queue/event_loop.py)."""
    guard: threading.Lock = field(default_factory=threading.Lock)

    def reachable(self) -> bool:
        """Would an exception raised in `thread_id` land in this job's code? For a task on
        the shared event loop, only while the loop runs that task (asked from another
        thread: the loop's current task is a dict entry, read under the GIL)."""
        return self.task is None or asyncio.current_task(self.task.get_loop()) is self.task

    @property
    def what(self) -> str:
        """How a log line names it: `SendMail 01J…` or `SendMail.failed() 01J…`."""
        return f"{self.class_name}{'.failed()' if self.hook else ''} {self.claimed.id}"
