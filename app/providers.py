"""Your application's start-up code (Laravel's AppServiceProvider).

`boot()` runs once per process, on the queue's first use (a dispatch, a worker starting, a
command that reads the queue): register event listeners here.
"""

from __future__ import annotations


def boot() -> None:
    # from app.queue import events
    #
    # @events.on(events.JobFailed)
    # def tell_someone(event: events.JobFailed) -> None:
    #     print(f"{event.class_name} {event.job_id} failed: {event.error}")
    pass
