"""Is a scheduler running? Read from what schedulers leave in `schedule_runs`.

A scheduler that runs claims every due run of every task (a row of `schedule_runs`), within
the run's window. So when the latest run that was due before the window closed has no row,
no scheduler claimed it: none was running then. Tasks that may skip a run on their own
(`when()`/`skip()`, `without_overlapping()`) are no evidence either way and are left out; a
scheduler started after that run was due reads as missing until the next run falls due.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.queue.schedule.scheduler import MINUTE_WINDOW, SECONDS_WINDOW
from app.queue.schedule.store import LastRun
from app.queue.schedule.task import Task
from app.queue.schedule.timing import Timing

GRACE = dt.timedelta(seconds=5)
"""After a run's window closes, the time its claim may take to commit and be seen."""
LOOKBACK = dt.timedelta(days=1)
"""How far back a task's last due run is looked for (prune_runs keeps a day of runs)."""
SECONDS_LOOKBACK = dt.timedelta(hours=1)
"""The same for a sub-minute task: its runs are many, and the last one is never far back."""


@dataclass(frozen=True, slots=True)
class MissedRun:
    task: str
    due_at: dt.datetime


def missed_run(tasks: Sequence[tuple[Task, Timing]], last_runs: Mapping[str, LastRun],
               now: dt.datetime) -> MissedRun | None:
    """The latest run that a running scheduler would have claimed by `now` (the database's
    clock), when no scheduler claimed it; None when it was claimed, or no task tells."""
    latest: tuple[str, dt.datetime] | None = None
    for task, timing in tasks:
        due = last_due_claimable(task, timing, now)
        if due is not None and (latest is None or due > latest[1]):
            latest = (task.label, due)
    if latest is None:
        return None
    label, due = latest
    last = last_runs.get(label)
    return None if last is not None and last.due_at >= due else MissedRun(label, due)


def last_due_claimable(task: Task, timing: Timing, now: dt.datetime) -> dt.datetime | None:
    """The task's latest due time whose window has closed, or None for a task that may skip
    runs itself (its missing run proves nothing)."""
    if task.filters or not task.overlapping_allowed:
        return None
    sub_minute = timing.seconds is not None
    window = SECONDS_WINDOW if sub_minute else MINUTE_WINDOW
    lookback = SECONDS_LOOKBACK if sub_minute else LOOKBACK
    dues = timing.due_between(now - lookback, now - window - GRACE)
    return dues[-1] if dues else None
