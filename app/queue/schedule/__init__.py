"""Recurring jobs and commands (SPEC §11), declared in `app/schedule.py`:

    from app.queue.schedule import schedule

    schedule.job(PruneSessions()).hourly()
    schedule.command("queue:prune-failed --hours 48").daily()

`schedule:work` ticks each second and enqueues each due run exactly once across every
scheduler on every host (see scheduler.py).
"""

from __future__ import annotations

import importlib
import sys

from app.queue.schedule.task import Schedule, ScheduleError, Task
from app.queue.schedule.timing import Timing

schedule = Schedule()
"""The process's schedule: `app/schedule.py` adds its tasks to it when it is imported."""


def load(module: str, default_zone: str = "UTC") -> list[tuple[Task, Timing]]:
    """Import (or import again) the schedule module and check every task it declares.
    Raises ScheduleError naming the module or the task."""
    from app.queue import payload

    schedule.clear()
    schedule.default_zone = default_zone
    try:
        if module in sys.modules:
            importlib.reload(sys.modules[module])
        else:
            importlib.import_module(module)
    except Exception as exc:  # any error of the user's schedule file
        where = getattr(sys.modules.get(module), "__file__", None) or module
        raise ScheduleError(f"the schedule {where} cannot be loaded: "
                            f"{type(exc).__name__}: {exc}") from exc
    checked = schedule.check()
    for task, _timing in checked:
        if task.job is not None:
            try:
                payload.encode(task.job)
            except (TypeError, ValueError) as exc:
                raise ScheduleError(f"scheduled task {task.label!r}: its job cannot be "
                                    f"queued: {exc}") from None
    return checked


__all__ = ["Schedule", "ScheduleError", "Task", "Timing", "load", "schedule"]
