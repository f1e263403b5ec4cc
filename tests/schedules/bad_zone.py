from app.queue.schedule import schedule
from tests.jobs.basic import Record

schedule.job(Record("x")).daily().timezone("Mars/Olympus").name("bad zone")
