"""When scheduled tasks fall due: every frequency, time zones, both DST transitions, month ends
and leap days, with the times each test chooses (no clock, no database)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from app.queue.schedule import Schedule, ScheduleError, Task
from app.queue.schedule.timing import Timing, TimingError
from tests.jobs.basic import Record

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")


def at(*parts: int, tz: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=tz)


def task() -> Task:
    return Task(job=Record("x"))


def dues(t: Task, since: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    return t.timing().due_between(since, until)


@pytest.mark.parametrize(("build", "expression"), [
    (lambda t: t.every_minute(), "* * * * *"),
    (lambda t: t.every_five_minutes(), "*/5 * * * *"),
    (lambda t: t.every_fifteen_minutes(), "*/15 * * * *"),
    (lambda t: t.hourly(), "0 * * * *"),
    (lambda t: t.hourly_at(17), "17 * * * *"),
    (lambda t: t.daily(), "0 0 * * *"),
    (lambda t: t.daily_at("08:05"), "5 8 * * *"),
    (lambda t: t.twice_daily(1, 13), "0 1,13 * * *"),
    (lambda t: t.weekly(), "0 0 * * 0"),
    (lambda t: t.weekly_on("monday", "8:00"), "0 8 * * 1"),
    (lambda t: t.monthly(), "0 0 1 * *"),
    (lambda t: t.monthly_on(15, "12:30"), "30 12 15 * *"),
    (lambda t: t.yearly(), "0 0 1 1 *"),
    (lambda t: t.weekdays().daily_at("08:00"), "0 8 * * 1-5"),
    (lambda t: t.daily_at("08:00").weekdays(), "0 8 * * 1-5"),
    (lambda t: t.weekends().hourly(), "0 * * * 0,6"),
    (lambda t: t.cron("*/7 3 * * 2"), "*/7 3 * * 2"),
])
def test_each_frequency_is_the_cron_expression_laravel_gives_it(build, expression):
    assert build(task()).expression == expression


def test_hourly_is_due_on_each_hour_once():
    found = dues(task().hourly(), at(2026, 1, 1, 9, 30), at(2026, 1, 1, 12, 0))
    assert found == [at(2026, 1, 1, 10), at(2026, 1, 1, 11), at(2026, 1, 1, 12)]


def test_the_window_excludes_its_start_and_includes_its_end():
    t = task().every_minute()
    assert dues(t, at(2026, 1, 1, 10, 0), at(2026, 1, 1, 10, 1)) == [at(2026, 1, 1, 10, 1)]
    assert dues(t, at(2026, 1, 1, 10, 0, 30), at(2026, 1, 1, 10, 0, 59)) == []


def test_every_seconds_is_due_at_each_multiple_of_its_step():
    t = task().every_seconds(15)
    assert dues(t, at(2026, 1, 1, 10, 0, 5), at(2026, 1, 1, 10, 1, 0)) == [
        at(2026, 1, 1, 10, 0, 15), at(2026, 1, 1, 10, 0, 30), at(2026, 1, 1, 10, 0, 45),
        at(2026, 1, 1, 10, 1, 0)]
    every = task().every_second()
    assert len(dues(every, at(2026, 1, 1, 10, 0, 0), at(2026, 1, 1, 10, 0, 3))) == 3


def test_every_seconds_keeps_to_the_minutes_its_cron_fields_allow():
    t = task().cron("0 9 * * *").every_seconds(30)  # every_seconds sets the minute field to *
    assert t.expression == "* 9 * * *"
    found = dues(t, at(2026, 1, 1, 8, 59, 0), at(2026, 1, 1, 9, 1, 0))
    assert found == [at(2026, 1, 1, 9, 0, 0), at(2026, 1, 1, 9, 0, 30), at(2026, 1, 1, 9, 1, 0)]


def test_daily_at_follows_its_time_zone():
    t = task().daily_at("08:00").timezone("Europe/Paris")
    found = dues(t, at(2026, 1, 1), at(2026, 1, 3))
    assert found == [at(2026, 1, 1, 7), at(2026, 1, 2, 7)]  # 08:00 in Paris is 07:00 UTC in winter
    summer = dues(t, at(2026, 7, 1), at(2026, 7, 2))
    assert summer == [at(2026, 7, 1, 6)]


def test_a_daily_time_that_spring_forward_skips_runs_once_that_day():
    # 2026-03-29 in Paris: 02:00 jumps to 03:00, so 02:30 does not exist that day.
    t = task().daily_at("02:30").timezone("Europe/Paris")
    found = dues(t, at(2026, 3, 28, 12), at(2026, 3, 30, 12))
    local = [d.astimezone(PARIS) for d in found]
    assert [d.date() for d in local] == [dt.date(2026, 3, 29), dt.date(2026, 3, 30)]
    assert local[0].hour == 3 and local[0].minute == 0  # right after the jump, as cron does


def test_a_daily_time_that_fall_back_repeats_runs_once_that_day():
    # 2026-10-25 in Paris: 03:00 goes back to 02:00, so 02:30 happens twice.
    t = task().daily_at("02:30").timezone("Europe/Paris")
    found = dues(t, at(2026, 10, 24, 12), at(2026, 10, 26, 12))
    assert [d.astimezone(PARIS).date() for d in found] == [dt.date(2026, 10, 25),
                                                           dt.date(2026, 10, 26)]


def test_month_ends_and_the_leap_day():
    monthly_31st = task().monthly_on(31, "00:00")
    found = dues(monthly_31st, at(2026, 1, 1), at(2026, 6, 1))
    assert [d.month for d in found] == [1, 3, 5]  # months without a 31st are skipped
    leap = task().cron("0 12 29 2 *")
    assert dues(leap, at(2025, 1, 1), at(2029, 1, 1)) == [at(2028, 2, 29, 12)]


def test_next_due_is_strictly_after():
    t = task().hourly()
    assert t.timing().next_due(at(2026, 1, 1, 10)) == at(2026, 1, 1, 11)
    seconds = task().every_seconds(10)
    assert seconds.timing().next_due(at(2026, 1, 1, 10, 0, 10)) == at(2026, 1, 1, 10, 0, 20)
    weekly_seconds = task().cron("* 9 * * 1").every_seconds(30)
    assert weekly_seconds.timing().next_due(at(2026, 1, 1, 10)) == at(2026, 1, 5, 9, 0, 0)


@pytest.mark.parametrize(("build", "message"), [
    (lambda t: t.cron("61 * * * *"), "bad cron expression '61 \\* \\* \\* \\*'"),
    (lambda t: t.cron("* * *"), "5 fields"),
    (lambda t: t.daily_at("25:00"), "HH:MM"),
    (lambda t: t.hourly().timezone("Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
    (lambda t: t.every_seconds(7), "divisor of 60"),
    (lambda t: t.days("funday"), "day's name"),
])
def test_a_bad_schedule_is_one_error_naming_the_task(build, message):
    t = build(task()).name("nightly import")
    with pytest.raises(ScheduleError, match=f"'nightly import': .*{message}"):
        t.timing()


def test_timing_refuses_a_bad_expression_itself():
    with pytest.raises(TimingError):
        Timing("* * * * * *", UTC)  # type: ignore[arg-type]


def test_two_tasks_of_one_name_are_refused():
    s = Schedule()
    s.job(Record("a")).hourly()
    s.job(Record("b")).daily()
    with pytest.raises(ScheduleError, match="two scheduled tasks are named 'Record'"):
        s.check()
    s.tasks[1].name("daily record")
    assert [t.label for t, _ in s.check()] == ["Record", "daily record"]


def test_when_and_skip_decide_each_run():
    flags = {"on": True}
    t = task().every_minute().when(lambda: flags["on"]).skip(lambda: False)
    assert t.passes_filters()
    flags["on"] = False
    assert not t.passes_filters()
    assert not task().skip(lambda: True).passes_filters()
