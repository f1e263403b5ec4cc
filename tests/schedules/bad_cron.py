from app.queue.schedule import schedule
from tests.jobs.basic import Record

schedule.job(Record("x")).cron("99 * * * *").name("bad cron")
