"""Which dispatches NOTIFY, and the trailing NOTIFY (app/queue/db/wakeups.py), without a
database: `send` records what would be sent."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from app.queue.connections.database.wakeups import Wakeups


class Sent:
    def __init__(self) -> None:
        self.calls: list[tuple[float, list[str]]] = []
        self.event = threading.Event()

    def __call__(self, queues: Sequence[str]) -> None:
        self.calls.append((time.monotonic(), list(queues)))
        self.event.set()

    def queues(self) -> list[str]:
        return [queue for _, queues in self.calls for queue in queues]


def test_the_first_dispatch_in_a_quiet_moment_notifies_with_its_insert() -> None:
    wakeups = Wakeups(Sent(), window=0.05)
    assert wakeups.notify_with_insert("mail")
    assert wakeups.notify_with_insert("sms")  # another queue's window is its own


def test_a_burst_notifies_once_then_once_at_the_windows_end() -> None:
    sent = Sent()
    wakeups = Wakeups(sent, window=0.05)
    started = time.monotonic()
    assert wakeups.notify_with_insert("mail")
    for _ in range(100):
        assert not wakeups.notify_with_insert("mail")
        wakeups.inserted_quietly("mail")
    assert sent.event.wait(5)
    time.sleep(0.15)  # nothing more follows: no job went in after the trailing NOTIFY
    assert sent.queues() == ["mail"]
    assert sent.calls[0][0] - started >= 0.05
    wakeups.close()


def test_a_quiet_insert_after_the_trailing_notify_gets_one_of_its_own() -> None:
    sent = Sent()
    wakeups = Wakeups(sent, window=0.02)
    assert wakeups.notify_with_insert("mail")
    assert not wakeups.notify_with_insert("mail")
    wakeups.inserted_quietly("mail")
    assert sent.event.wait(5)
    sent.event.clear()
    # Inside the window of the trailing NOTIFY: quiet again, and followed by another.
    assert not wakeups.notify_with_insert("mail")
    wakeups.inserted_quietly("mail")
    assert sent.event.wait(5)
    assert sent.queues() == ["mail", "mail"]
    wakeups.close()


def test_a_decision_made_before_the_trailing_notify_is_followed_by_another() -> None:
    # The insert decided quiet while a trailing NOTIFY was pending, and committed only after
    # that NOTIFY went out: it must not ride on it.
    sent = Sent()
    wakeups = Wakeups(sent, window=0.02)
    assert wakeups.notify_with_insert("mail")
    assert not wakeups.notify_with_insert("mail")
    wakeups.inserted_quietly("mail")
    assert not wakeups.notify_with_insert("mail")  # decided; its insert is slow to commit
    assert sent.event.wait(5)
    sent.event.clear()
    wakeups.inserted_quietly("mail")  # committed now, after the first trailing NOTIFY
    assert sent.event.wait(5)
    assert sent.queues() == ["mail", "mail"]
    wakeups.close()


def test_close_sends_what_is_pending_at_once() -> None:
    sent = Sent()
    wakeups = Wakeups(sent, window=60)
    assert wakeups.notify_with_insert("mail")
    assert not wakeups.notify_with_insert("mail")
    wakeups.inserted_quietly("mail")
    wakeups.close()
    assert sent.queues() == ["mail"]


def test_the_next_dispatch_after_the_window_carries_the_trailing_notify() -> None:
    sent = Sent()
    wakeups = Wakeups(sent, window=0.05)
    assert wakeups.notify_with_insert("mail")
    assert not wakeups.notify_with_insert("mail")
    wakeups.inserted_quietly("mail")
    time.sleep(0.06)
    assert wakeups.notify_with_insert("mail")  # its insert's NOTIFY is the trailing one
    time.sleep(0.15)
    assert sent.queues() == []  # the timer had nothing left to send
    wakeups.close()
