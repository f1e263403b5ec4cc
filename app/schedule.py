"""Scheduled tasks: what `python artisan.py schedule:work` enqueues, and when.

Each due run is enqueued exactly once however many schedulers run (on one host or many), so
run `schedule:work` under a supervisor on more than one server if you like. Uncomment and
adapt; `python artisan.py schedule:list` shows what is declared and when it next runs.
"""

from __future__ import annotations

from app.queue.schedule import schedule  # noqa: F401 - used by the examples below

# from app.jobs.send_welcome_email import SendWelcomeEmail
#
# A job, enqueued on its queue at each due time (its arguments are stored as for dispatch):
# schedule.job(SendWelcomeEmail(7, "ops@example.com"), queue="emails").daily_at("08:00") \
#     .timezone("Europe/Paris").name("morning mail")
#
# An artisan command, run as a child process by the scheduler (its output is logged):
# schedule.command("queue:prune-failed --hours 48").daily()
#
# Frequencies: every_seconds(n), every_minute(), every_five_minutes(), hourly(),
# hourly_at(17), daily(), daily_at("13:00"), twice_daily(1, 13), weekly(),
# weekly_on(1, "8:00"), monthly(), monthly_on(4, "15:00"), yearly(), weekdays(), weekends(),
# days(1, 3), cron("* * * * *").
# Conditions: when(fn), skip(fn), without_overlapping(), name("…"), timezone("…").
