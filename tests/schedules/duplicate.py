from app.queue.schedule import schedule
from tests.jobs.basic import Record

schedule.job(Record("a")).hourly()
schedule.job(Record("b")).daily()
