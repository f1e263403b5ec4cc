"""Watching the queues from outside the worker: long-wait notifications (notify.py)."""

from __future__ import annotations

from app.queue.observe.notify import LongWait, LongWaitNotifier, MailSettings, NotifySettings

__all__ = ["LongWait", "LongWaitNotifier", "MailSettings", "NotifySettings"]
