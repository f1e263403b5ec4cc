"""A schedule with one task due every second (the exactly-once test)."""

from app.queue.schedule import schedule
from tests.jobs.basic import Record

schedule.job(Record("tick"), queue="scheduled").every_second().name("tick")
