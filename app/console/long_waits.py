"""The long-wait check as the commands run it, from the configuration (SPEC §17):

    watch_long_waits(stop, log_line)   # schedule:work, supervise: every QUEUE_NOTIFY_CHECK_EVERY
    notify_long_waits()                # queue:monitor --notify: once, now

Both read QUEUE_WAIT_THRESHOLDS and the rest at once, so a bad value stops the command at its
start with one line naming the key; neither does anything while no threshold is set.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.queue.observe.notify import LongWait, LongWaitNotifier


def say_on_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def configured_notifier(say: Callable[[str], None]) -> LongWaitNotifier | None:
    """The notifier of QUEUE_WAIT_THRESHOLDS; None when it names no queue, or when jobs run
    inline at dispatch (QUEUE_CONNECTION=sync: nothing ever waits)."""
    import config.queue
    from app.queue import context
    from app.queue.observe.notify import LongWaitNotifier

    settings = config.queue.notify_settings()
    current = context.current()
    if not settings.thresholds or current.settings.connection == "sync":
        return None
    return LongWaitNotifier(current.store.engine, settings, current.settings.connection,
                            say=say)


def notify_long_waits(say: Callable[[str], None] = say_on_stderr) -> list[LongWait]:
    """One check now: what this call notified."""
    notifier = configured_notifier(say)
    return notifier.check() if notifier is not None else []


def watch_long_waits(stop: threading.Event,
                     say: Callable[[str], None] = say_on_stderr) -> threading.Thread | None:
    """Check at once, then every QUEUE_NOTIFY_CHECK_EVERY seconds until `stop` is set, in a
    daemon thread: a slow webhook or mail server never delays the caller's own loop."""
    notifier = configured_notifier(say)
    if notifier is None:
        return None
    thread = threading.Thread(target=keep_checking, args=(notifier, stop, say),
                              name="long-waits", daemon=True)
    thread.start()
    return thread


def keep_checking(notifier: LongWaitNotifier, stop: threading.Event,
                  say: Callable[[str], None]) -> None:
    from app.queue.errors import QueueError

    failing = False
    while not stop.is_set():
        try:
            notifier.check()
            failing = False
        except QueueError as exc:  # the database is down or refuses: said once, tried on
            if not failing:
                say(f"the long-wait check failed: {exc}; trying again each "
                    f"{notifier.settings.check_every:g}s")
            failing = True
        stop.wait(notifier.settings.check_every)
