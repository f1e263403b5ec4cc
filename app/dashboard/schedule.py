"""The schedule page's rows: the declared tasks, next due and last run (as schedule:list)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from app.dashboard.settings import DashboardSettings


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


def schedule_rows(settings: DashboardSettings,
                  engine: Engine) -> tuple[list[ScheduleRow], str | None]:
    """The rows, or none and the one sentence that says why the schedule cannot be read (a
    broken schedule file is the user's to fix; the rest of the dashboard works on)."""
    from app.queue.schedule import ScheduleError, load
    from app.queue.schedule.store import ScheduleStore

    try:
        tasks = load(settings.schedule_module, default_zone=settings.schedule_timezone)
    except ScheduleError as exc:
        return [], str(exc)
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
    return rows, None
