from app.queue.schedule import schedule
from tests.jobs.basic import Record

schedule.job(Record({1, 2})).hourly().name("set argument")  # a set is not a JSON value
