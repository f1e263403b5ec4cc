"""The long-wait check as the commands run it, from the configuration (SPEC §17):

    watch_long_waits(stop, log_line)   # schedule:work, supervise: every QUEUE_NOTIFY_CHECK_EVERY
    notify_long_waits()                # queue:monitor --notify: once, now

Both read QUEUE_WAIT_THRESHOLDS and the rest at once, so a bad value stops the command at its
start with one line naming the key; neither does anything while no threshold is set.
"""

from __future__ import annotations

import atexit
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.queue.observe.notify import LongWait, LongWaitNotifier

FINISH_WITHIN = 20.0
"""Seconds a stopping command waits for a notification on its way (a webhook's 5 s, an SMTP
conversation's few steps of at most 10 s each, if the server is slow)."""


def say_on_stderr(text: str) -> None:
    from app.console.output import printable  # a queue's name is user text

    print(printable(text), file=sys.stderr, flush=True)


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
    """Check at once, then every QUEUE_NOTIFY_CHECK_EVERY seconds until `stop` is set (or the
    process exits), in a thread: a slow webhook or mail server never delays the caller's own
    loop."""
    notifier = configured_notifier(say)
    if notifier is None:
        return None
    # A daemon, so that a command that ends by an error is never kept alive by it; joined at
    # exit, so that a notification being sent as the command stops is not cut off mid-mail.
    thread = threading.Thread(target=keep_checking, args=(notifier, stop, say),
                              name="long-waits", daemon=True)
    thread.start()
    atexit.register(finish, stop, thread)
    return thread


def finish(stop: threading.Event, thread: threading.Thread) -> None:
    stop.set()
    thread.join(FINISH_WITHIN)


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
