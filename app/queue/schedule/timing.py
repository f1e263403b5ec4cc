"""When a task is due: a cron expression in a time zone, optionally with a step in seconds.

Pure functions of the times they are given (nothing here reads a clock), so every frequency,
zone and DST transition is tested with the times a test chooses. Cron matching is `cronsim`'s,
which follows Debian's cron, DST included: a daily time that a spring-forward skips runs once,
right after the jump; one that a fall-back repeats runs once, at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)


class TimingError(ValueError):
    """A cron expression, a time zone or a step that cannot be used."""


@dataclass(frozen=True, slots=True)
class Timing:
    """A task's schedule: `expression` (5 cron fields) in `zone`, and, for sub-minute tasks,
    `seconds` (a divisor of 60: due at every multiple of it within each matching minute)."""

    expression: str
    zone: ZoneInfo
    seconds: int | None = None

    def __post_init__(self) -> None:
        if self.seconds is not None and not (1 <= self.seconds <= 30 and 60 % self.seconds == 0):
            raise TimingError(f"every_seconds takes a divisor of 60 below 60 (1, 2, 3, 4, 5, 6, "
                              f"10, 12, 15, 20, 30), not {self.seconds}")
        if len(self.expression.split()) != 5:  # cronsim also takes forms cron does not
            raise TimingError(f"a cron expression has 5 fields: {self.expression!r}")
        try:
            CronSim(self.expression, dt.datetime(2000, 1, 1, tzinfo=self.zone))
        except CronSimError as exc:
            raise TimingError(f"bad cron expression {self.expression!r}: {exc}") from None

    def due_between(self, since: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
        """Every due time d with since < d <= until, in UTC, oldest first."""
        if until <= since:
            return []
        if self.seconds is None:
            found = []
            for due in self._matching_minutes(since):
                if due > until:
                    break
                found.append(due.astimezone(UTC))
            return found
        return list(self._seconds_between(since, until))

    def next_due(self, after: dt.datetime) -> dt.datetime:
        """The first due time strictly after `after`, in UTC."""
        if self.seconds is None:
            return next(self._matching_minutes(after)).astimezone(UTC)
        # A matching minute holds at least one due second, and the next one is at most a
        # year away for any expression cronsim accepts (Feb 29 aside): widen until found.
        span = dt.timedelta(minutes=2)
        while True:
            found = self._seconds_between(after, after + span)
            first = next(found, None)
            if first is not None:
                return first
            span *= 64

    def _matching_minutes(self, since: dt.datetime) -> Iterator[dt.datetime]:
        return CronSim(self.expression, since.astimezone(self.zone))

    def _seconds_between(self, since: dt.datetime, until: dt.datetime) -> Iterator[dt.datetime]:
        assert self.seconds is not None
        # Start one minute back, so that the minute `since` falls in is one of those matched.
        for minute in self._matching_minutes(since - MINUTE):
            start = minute.astimezone(UTC)
            if start > until:
                return
            for step in range(0, 60, self.seconds):
                due = start + dt.timedelta(seconds=step)
                if since < due <= until:
                    yield due


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise TimingError(f"unknown time zone {name!r}") from exc


def clock_time(text: str) -> tuple[int, int]:
    """'08:00' -> (8, 0)."""
    hour, sep, minute = text.partition(":")
    if sep and hour.isdigit() and minute.isdigit() and len(minute) == 2:
        h, m = int(hour), int(minute)
        if h < 24 and m < 60:
            return h, m
    raise TimingError(f"a time of day is HH:MM (00:00 to 23:59), not {text!r}")
