from app.queue.schedule import schedule

schedule.command("queue:frobnicate --now").hourly().name("typo")
