"""Tasks that when()/skip() keep from running, beside one that runs."""

from app.queue.schedule import schedule
from tests.jobs.basic import Record

schedule.job(Record("never"), queue="scheduled").every_second().when(lambda: False).name("when")
schedule.job(Record("skipped"), queue="scheduled").every_second().skip(lambda: True).name("skip")
schedule.job(Record("always"), queue="scheduled").every_second().when(lambda: True).name("runs")
