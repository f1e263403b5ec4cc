"""Long-wait notifications (SPEC §17) on the real database, to a real HTTP receiver and a
real SMTP server: the event, the POST and the mail once per queue per cooldown, whatever
fails on the way said in one line."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from app.queue import dispatch, events
from app.queue.observe import notify
from app.queue.observe.notify import LongWaitNotifier, MailSettings, NotifySettings
from tests.jobs.basic import Record
from tests.receivers import free_port, smtp_receiver, webhook_receiver
from tests.support import count


def waiting(engine: sa.Engine, queue: str, seconds: float) -> str:
    """A pending job of `queue` that has waited `seconds` (due that long ago)."""
    job_id = dispatch(Record(f"waits-{queue}"), queue=queue)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE jobs SET available_at = now() - make_interval(secs => :s) "
                             "WHERE id = :id"), {"s": seconds, "id": job_id})
    return job_id


def mail_to(port: int) -> MailSettings:
    return MailSettings("127.0.0.1", port, ("ops@example.com",), "skiplock@example.com")


@pytest.fixture
def heard():
    """LongWaitDetected events fired in this process."""
    fired: list[events.LongWaitDetected] = []
    events.listen(events.LongWaitDetected, fired.append)
    yield fired
    events.forget_all()


def test_a_queue_waiting_past_its_threshold_is_posted_mailed_and_fired_once(
        queue, engine, heard) -> None:
    waiting(engine, "default", 120)
    lines: list[str] = []
    with webhook_receiver() as hook, smtp_receiver() as box:
        notifier = LongWaitNotifier(engine, NotifySettings(
            {"default": 60}, webhook=hook.url, mail=mail_to(box.port)), say=lines.append)
        sent = notifier.check()
        assert [(w.queue, w.threshold) for w in sent] == [("default", 60.0)]
        assert 119 < sent[0].seconds < 180
        assert notifier.check() == []  # the cooldown (300 s) runs: nothing more

    assert [(e.connection, e.queue) for e in heard] == [("database", "default")]
    assert heard[0].seconds == sent[0].seconds
    [body] = hook.bodies
    assert body["content_type"] == "application/json"
    assert body["queue"] == "default" and body["wait_seconds"] == sent[0].seconds
    assert body["text"].startswith("Skiplock: the oldest pending job of queue default "
                                   "(database) has waited 12")
    [(_at, sender, recipients, mail)] = box.mails
    assert (sender, recipients) == ("skiplock@example.com", ["ops@example.com"])
    assert mail["Subject"] == "Long wait on queue default"
    assert mail.get_payload(decode=True).decode().strip() == body["text"]
    assert lines == [body["text"]]
    assert count(engine, "SELECT count(*) FROM queue_notifications "
                         "WHERE queue = 'default' AND wait_seconds > 119") == 1


def test_only_the_queues_over_their_threshold_are_notified(queue, engine, heard) -> None:
    waiting(engine, "slow", 30)      # under its threshold
    waiting(engine, "late", 90)      # over it
    waiting(engine, "unwatched", 9999)  # no threshold: not looked at
    dispatch(Record("not-due"), queue="delayed", delay=3600)  # delayed is not waiting
    notifier = LongWaitNotifier(engine, NotifySettings(
        {"slow": 60, "late": 60, "empty": 1, "delayed": 1}), say=lambda line: None)
    assert [w.queue for w in notifier.check()] == ["late"]
    assert [e.queue for e in heard] == ["late"]


def test_the_oldest_pending_job_is_found_whatever_its_priority(queue, engine) -> None:
    for priority, seconds in ((5, 30), (-1, 100), (0, 10)):
        job_id = waiting(engine, "mixed", seconds)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE jobs SET priority = :p WHERE id = :id"),
                         {"p": priority, "id": job_id})
    dispatch(Record("later"), queue="mixed", delay=3600, priority=9)
    notifier = LongWaitNotifier(engine, NotifySettings({"mixed": 60}), say=lambda line: None)
    [wait] = notifier.check()
    assert 99 < wait.seconds < 160


def test_a_reserved_job_is_not_waiting(queue, engine) -> None:
    job_id = waiting(engine, "default", 120)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE jobs SET reserved_at = now(), reserved_by = 'w' "
                             "WHERE id = :id"), {"id": job_id})
    notifier = LongWaitNotifier(engine, NotifySettings({"default": 60}), say=lambda line: None)
    assert notifier.check() == []


def test_the_next_notification_goes_once_the_cooldown_is_over(queue, engine, heard) -> None:
    waiting(engine, "default", 120)
    notifier = LongWaitNotifier(engine, NotifySettings({"default": 60}, cooldown=1.0),
                                say=lambda line: None)
    assert len(notifier.check()) == 1
    assert notifier.check() == []
    time.sleep(1.1)
    assert len(notifier.check()) == 1
    assert len(heard) == 2


def test_notifiers_checking_at_the_same_moment_notify_once(queue, engine, heard) -> None:
    waiting(engine, "default", 120)
    waiting(engine, "emails", 120)
    settings = NotifySettings({"default": 60, "emails": 60})
    notifiers = [LongWaitNotifier(engine, settings, identity=f"n{n}", say=lambda line: None)
                 for n in range(8)]
    start = threading.Barrier(len(notifiers))
    sent: list[str] = []

    def check(notifier: LongWaitNotifier) -> None:
        start.wait()
        sent.extend(wait.queue for wait in notifier.check())

    threads = [threading.Thread(target=check, args=(n,)) for n in notifiers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(sent) == ["default", "emails"]
    assert sorted(e.queue for e in heard) == ["default", "emails"]


def test_a_failing_webhook_is_one_line_and_the_mail_still_goes(queue, engine) -> None:
    waiting(engine, "default", 120)
    lines: list[str] = []
    with webhook_receiver(status=500) as hook, smtp_receiver() as box:
        notifier = LongWaitNotifier(engine, NotifySettings(
            {"default": 60}, webhook=hook.url, mail=mail_to(box.port)), say=lines.append)
        assert len(notifier.check()) == 1
    assert len(hook.posts) == 1 and len(box.mails) == 1
    assert lines[1:] == ["the long-wait notification of queue default could not be posted to "
                         "QUEUE_NOTIFY_WEBHOOK: HTTPError: HTTP Error 500: Internal Server "
                         "Error"]
    assert "secret" not in "".join(lines)  # the webhook's URL is its credential


def test_unreachable_servers_are_one_line_each(queue, engine) -> None:
    waiting(engine, "default", 120)
    lines: list[str] = []
    closed = free_port()
    notifier = LongWaitNotifier(engine, NotifySettings(
        {"default": 60}, webhook=f"http://127.0.0.1:{closed}/hook", mail=mail_to(closed)),
        say=lines.append)
    assert len(notifier.check()) == 1
    assert len(lines) == 3, lines
    assert "could not be posted to QUEUE_NOTIFY_WEBHOOK: URLError" in lines[1]
    assert lines[2].startswith("the long-wait notification of queue default could not be "
                               f"mailed through 127.0.0.1:{closed}: ConnectionRefusedError")


def test_a_hanging_webhook_is_given_up_after_its_timeout(queue, engine, monkeypatch) -> None:
    monkeypatch.setattr(notify, "WEBHOOK_TIMEOUT", 0.5)
    waiting(engine, "default", 120)
    lines: list[str] = []
    with webhook_receiver(delay=5) as hook:
        notifier = LongWaitNotifier(engine, NotifySettings({"default": 60}, webhook=hook.url),
                                    say=lines.append)
        started = time.monotonic()
        assert len(notifier.check()) == 1
        assert time.monotonic() - started < 3
    assert "could not be posted to QUEUE_NOTIFY_WEBHOOK: TimeoutError" in lines[-1]
