"""What `app/schedule.py` declares: tasks (a job to enqueue or an artisan command to run) and
how often, in Laravel's words.

    schedule.job(PruneSessions()).hourly()
    schedule.job(SendDigest(), queue="mail").daily_at("08:00").timezone("Europe/Paris")
    schedule.command("queue:prune-failed --hours 48").daily()

Declaring records; `Schedule.check()` validates every task at once and raises `ScheduleError`
naming the task, so a bad expression or zone is one line at `schedule:list` as at
`schedule:work`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from app.queue.errors import QueueError
from app.queue.job import Job
from app.queue.schedule.timing import Timing, TimingError, clock_time, zone

DAYS = {"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5,
        "saturday": 6}


class ScheduleError(QueueError):
    """The schedule cannot be used: a task's expression, zone or job, or the file itself."""


class Task:
    """One scheduled task. Every frequency method returns the task, so calls chain; later
    calls change only the cron fields they name (`.weekdays().daily_at("08:00")`)."""

    def __init__(self, *, job: Job | None = None, command: str | None = None,
                 queue: str | None = None, default_zone: str = "UTC") -> None:
        self.job = job
        self.command = command
        self.queue = queue
        self.fields = ["*", "*", "*", "*", "*"]  # minute hour day-of-month month day-of-week
        self.seconds: int | None = None
        self.zone_name = default_zone
        self.filters: list[tuple[bool, Callable[[], Any]]] = []
        self.overlapping_allowed = True
        self.overlap_expires = 24 * 3600.0
        self._name: str | None = None
        self._problem: str | None = None

    # -------------------------------------------------------------------------- naming

    @property
    def label(self) -> str:
        """The task's name: given by `.name()`, else the job's class or the command line. Its
        runs are keyed by it, so renaming a task starts its run history afresh."""
        if self._name is not None:
            return self._name
        if self.job is not None:
            return type(self.job).__qualname__
        return self.command or "?"

    def name(self, name: str) -> Task:
        self._name = name
        return self

    @property
    def kind(self) -> str:
        return "job" if self.job is not None else "command"

    # ---------------------------------------------------------------------- frequencies

    def cron(self, expression: str) -> Task:
        parts = expression.split()
        if len(parts) != 5:
            self._problem = f"a cron expression has 5 fields, not {len(parts)}: {expression!r}"
        else:
            self.fields = parts
        return self

    def every_seconds(self, seconds: int) -> Task:
        self.seconds = seconds
        return self._splice(0, "*")

    def every_second(self) -> Task:
        return self.every_seconds(1)

    def every_minute(self) -> Task:
        return self._splice(0, "*")

    def every_two_minutes(self) -> Task:
        return self._splice(0, "*/2")

    def every_five_minutes(self) -> Task:
        return self._splice(0, "*/5")

    def every_ten_minutes(self) -> Task:
        return self._splice(0, "*/10")

    def every_fifteen_minutes(self) -> Task:
        return self._splice(0, "*/15")

    def every_thirty_minutes(self) -> Task:
        return self._splice(0, "0,30")

    def hourly(self) -> Task:
        return self._splice(0, "0")

    def hourly_at(self, minute: int) -> Task:
        if not (isinstance(minute, int) and 0 <= minute < 60):
            self._problem = f"hourly_at takes a minute from 0 to 59, not {minute!r}"
            return self
        return self._splice(0, str(minute))

    def daily(self) -> Task:
        return self._splice(0, "0")._splice(1, "0")

    def daily_at(self, time: str) -> Task:
        try:
            hour, minute = clock_time(time)
        except TimingError as exc:
            self._problem = str(exc)
            return self
        return self._splice(0, str(minute))._splice(1, str(hour))

    at = daily_at

    def twice_daily(self, first: int = 1, second: int = 13) -> Task:
        return self._splice(0, "0")._splice(1, f"{first},{second}")

    def weekly(self) -> Task:
        return self._splice(0, "0")._splice(1, "0")._splice(4, "0")

    def weekly_on(self, day: int | str, time: str = "00:00") -> Task:
        return self.days(day).daily_at(time)

    def monthly(self) -> Task:
        return self._splice(0, "0")._splice(1, "0")._splice(2, "1")

    def monthly_on(self, day: int = 1, time: str = "00:00") -> Task:
        return self.daily_at(time)._splice(2, str(day))

    def yearly(self) -> Task:
        return self.monthly()._splice(3, "1")

    def weekdays(self) -> Task:
        return self._splice(4, "1-5")

    def weekends(self) -> Task:
        return self._splice(4, "0,6")

    def days(self, *days: int | str) -> Task:
        numbers = []
        for day in days:
            number = DAYS.get(day.lower()) if isinstance(day, str) else day
            if number is None or not 0 <= number <= 6:
                self._problem = f"a day is 0-6 or a day's name, not {day!r}"
                return self
            numbers.append(str(number))
        return self._splice(4, ",".join(numbers))

    def mondays(self) -> Task:
        return self.days(1)

    def sundays(self) -> Task:
        return self.days(0)

    def _splice(self, position: int, value: str) -> Task:
        self.fields[position] = value
        return self

    # ------------------------------------------------------------------------ conditions

    def timezone(self, name: str) -> Task:
        self.zone_name = name
        return self

    def when(self, condition: Callable[[], Any]) -> Task:
        """Run only when `condition()` is true (asked at each due time)."""
        self.filters.append((True, condition))
        return self

    def skip(self, condition: Callable[[], Any]) -> Task:
        """Do not run when `condition()` is true."""
        self.filters.append((False, condition))
        return self

    def without_overlapping(self, expires_after: float = 24 * 3600.0) -> Task:
        """No new run while the last one is pending or running (a job still in `jobs`, or a
        command not finished, for at most `expires_after` seconds: a scheduler killed while a
        command ran never records its end)."""
        self.overlapping_allowed = False
        self.overlap_expires = float(expires_after)
        return self

    def passes_filters(self) -> bool:
        return all(bool(condition()) == wanted for wanted, condition in self.filters)

    # ------------------------------------------------------------------------- reading

    @property
    def expression(self) -> str:
        return " ".join(self.fields)

    def describe(self) -> str:
        """The expression as schedule:list shows it."""
        if self.seconds is not None:
            return f"every {self.seconds}s ({self.expression})"
        return self.expression

    def timing(self) -> Timing:
        """The checked schedule (raises ScheduleError naming the task)."""
        try:
            if self._problem is not None:
                raise TimingError(self._problem)
            return Timing(self.expression, zone(self.zone_name), self.seconds)
        except TimingError as exc:
            raise ScheduleError(f"scheduled task {self.label!r}: {exc}") from None

    def arguments(self) -> list[str]:
        """A command task's words, as a shell would split them."""
        assert self.command is not None
        try:
            return shlex.split(self.command)
        except ValueError as exc:
            raise ScheduleError(f"scheduled task {self.label!r}: cannot read the command line "
                                f"{self.command!r}: {exc}") from None


class Schedule:
    """The tasks `app/schedule.py` declares (the module fills the process's one `schedule`)."""

    def __init__(self) -> None:
        self.tasks: list[Task] = []
        self.default_zone = "UTC"

    def job(self, job: Job, queue: str | None = None) -> Task:
        task = Task(job=job, queue=queue, default_zone=self.default_zone)
        self.tasks.append(task)
        return task

    def command(self, command: str) -> Task:
        task = Task(command=command, default_zone=self.default_zone)
        self.tasks.append(task)
        return task

    def clear(self) -> None:
        self.tasks.clear()

    def check(self) -> list[tuple[Task, Timing]]:
        """Every task with its timing; ScheduleError on the first that cannot be used."""
        checked = []
        names: set[str] = set()
        for task in self.tasks:
            if task.job is not None and not isinstance(task.job, Job):
                raise ScheduleError(f"scheduled task {task.label!r}: schedule.job() takes a Job "
                                    f"instance, not {type(task.job).__name__}")
            if task.command is not None and not task.arguments():
                raise ScheduleError(f"scheduled task {task.label!r}: the command is empty")
            if task.label in names:
                raise ScheduleError(f"two scheduled tasks are named {task.label!r}: give each its "
                                    "own .name(\"…\")")
            names.add(task.label)
            checked.append((task, task.timing()))
        return checked

    def find(self, name: str) -> Task | None:
        return next((task for task in self.tasks if task.label == name), None)
