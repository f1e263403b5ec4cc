"""A task due every second that must not overlap its last run."""

from app.queue.schedule import schedule
from tests.jobs.basic import Record

schedule.job(Record("once at a time"), queue="scheduled").every_second() \
    .without_overlapping().name("lonely")
