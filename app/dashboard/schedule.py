"""The schedule page's rows: the declared tasks, next due and last run (as schedule:list)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from app.dashboard.settings import DashboardSettings

if TYPE_CHECKING:
    from app.queue.schedule.health import MissedRun


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    task: str
    kind: str
    expression: str
    timezone: str
    next_due: dt.datetime
    last_due: dt.datetime | None
    last_exit_code: int | None
    last_job_id: str | None


@dataclass(frozen=True, slots=True)
class ScheduleView:
    rows: list[ScheduleRow]
    problem: str | None
    """Why the schedule cannot be read (a broken schedule file is the user's to fix; the rest
    of the dashboard works on)."""
    missed: MissedRun | None = None
    """A run that fell due and that no scheduler claimed: none seems to be running."""


def schedule_view(settings: DashboardSettings, engine: Engine) -> ScheduleView:
    """The declared tasks with their next due and last run, as schedule:list shows them, and
    whether a scheduler seems to be running (the same check as schedule:list's warning)."""
    from app.queue.schedule import ScheduleError, load
    from app.queue.schedule.health import missed_run
    from app.queue.schedule.store import ScheduleStore

    try:
        tasks = load(settings.schedule_module, default_zone=settings.schedule_timezone)
    except ScheduleError as exc:
        return ScheduleView([], str(exc))
    store = ScheduleStore(engine)
    now = store.now()
    last = store.last_runs([task.label for task, _timing in tasks])
    rows = []
    for task, timing in tasks:
        run = last.get(task.label)
        rows.append(ScheduleRow(task.label, task.kind, task.describe(), task.zone_name,
                                timing.next_due(now).astimezone(timing.zone),
                                run.due_at if run else None,
                                run.exit_code if run else None, run.job_id if run else None))
    return ScheduleView(rows, None, missed_run(tasks, last, now))
