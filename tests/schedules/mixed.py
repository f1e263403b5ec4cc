"""A job task and two command tasks (one that succeeds, one that fails), for the CLI tests."""

from app.queue.schedule import schedule
from tests.jobs.basic import Record

schedule.job(Record("nightly"), queue="reports").daily_at("02:30") \
    .timezone("Europe/Paris").name("nightly report")
schedule.command("queue:status --json").hourly().name("status")
schedule.command("queue:job NO-SUCH-JOB").every_five_minutes().name("failing command")
