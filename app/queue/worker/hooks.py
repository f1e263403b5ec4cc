"""failed() hooks: user code too, so each runs on a job thread beside the slots, with a
deadline of its own (the job's timeout, FAILED_HOOK_TIMEOUT if it has none) and the same
interrupt and stuck-thread restart as handle()."""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable
from typing import Any

from app.queue.connections.base import QueueStore
from app.queue.errors import DatabaseUnavailable
from app.queue.runner import call_failed_hook
from app.queue.worker import process
from app.queue.worker.slot import Slot
from app.queue.worker.threads import JobThreads
from app.queue.worker.timeouts import Timeouts

HOOK_ENDED = "hook ended"
"""The event a hook's thread posts to the worker's queue when the hook is over."""


class FailedHooks:
    """The hooks of one worker. `running` is read and written by the main thread only."""

    def __init__(self, store: QueueStore, pool: JobThreads, timeouts: Timeouts,
                 events: queue.SimpleQueue[tuple[str, Any]],
                 log: Callable[[str], None]) -> None:
        self.store = store
        self.pool = pool
        self.timeouts = timeouts
        self.events = events
        self.log = log
        self.running: dict[str, Slot] = {}
        """Hooks submitted and not yet ended, by job id (a stopping worker waits for them)."""
        timeouts.watch(self.running)

    def start(self, slot: Slot, error: BaseException) -> None:
        hook = Slot(slot.claimed, slot.job, slot.class_name, hook=True)
        self.running[slot.claimed.id] = hook
        self.pool.submit(self._run, hook, error)

    def ended(self, hook: Slot) -> None:
        self.running.pop(hook.claimed.id, None)

    def _run(self, hook: Slot, error: BaseException) -> None:
        """On a job thread."""
        assert hook.job is not None
        self.timeouts.arm_failed_hook(hook, hook.job)
        try:
            hook_error = call_failed_hook(hook.job, error)
            if process.in_forked_child:  # the hook forked, and its child returned here
                process.leave_forked_child(0 if hook_error is None else 1)
        finally:
            self.timeouts.leave_user_code(hook)
            self.events.put((HOOK_ENDED, hook))
        if hook_error is not None:
            self._note_error(hook, hook_error)

    def _note_error(self, hook: Slot, hook_error: str) -> None:
        if hook.interrupted and hook_error.rstrip().endswith("JobTimeout"):
            what = f"ran past its timeout of {hook.timeout:g}s"
            self.log(f"{hook.class_name}.failed() {what}")
        else:
            what = "raised too"
            self.log(f"{hook.class_name}.failed() raised: {hook_error.splitlines()[-1]}")
        with contextlib.suppress(DatabaseUnavailable):
            self.store.append_failure_note(
                hook.claimed.id, f"\n\nThe job's failed() hook {what}:\n{hook_error}")
