"""Queue events: listen/on, firing to listeners of the class and of its bases, a raising
listener logged without stopping the others."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from app.queue import events


@pytest.fixture(autouse=True)
def no_listeners() -> Iterator[None]:
    events.forget_all()
    yield
    events.forget_all()


def test_listeners_get_the_events_of_their_class_and_its_subclasses():
    seen: list[object] = []
    events.listen(events.JobFailed, seen.append)

    @events.on(events.JobEvent)
    def every_job_event(event: events.JobEvent) -> None:
        seen.append(("any", event.job_id))

    failed = events.JobFailed("01J", "SendMail", "default", attempt=3, error="boom")
    events.fire(failed)
    events.fire(events.JobProcessed("01K", "SendMail", "default", attempt=1, duration=0.5))
    events.fire(events.WorkerStarting("w1", "default", ("default",)))
    assert seen == [failed, ("any", "01J"), ("any", "01K")]
    assert events.has_listeners(events.JobQueued)
    assert not events.has_listeners(events.WorkerStopping)


def test_a_listener_that_raises_is_logged_and_the_others_still_run(caplog):
    seen: list[str] = []

    def broken(event: events.Event) -> None:
        raise RuntimeError("listener bug")

    events.listen(events.JobQueued, broken)
    events.listen(events.JobQueued, lambda event: seen.append(event.job_id))
    with caplog.at_level(logging.ERROR, logger="skiplock.events"):
        events.fire(events.JobQueued("01J", "SendMail", "default"))
    assert seen == ["01J"]
    [record] = caplog.records
    assert "raised RuntimeError: listener bug" in record.getMessage()


def test_listen_refuses_what_is_not_an_event_or_not_callable():
    with pytest.raises(TypeError, match="event class"):
        events.listen(str, print)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        events.listen(events.JobQueued, "print")  # type: ignore[arg-type]
