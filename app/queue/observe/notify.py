"""Long-wait notifications (SPEC §17, Horizon's `waits`): when a queue's oldest pending job
has waited longer than its threshold, fire `LongWaitDetected`, POST to a webhook and send a
mail — at most once per queue per cooldown, however many processes check.

    notifier = LongWaitNotifier(engine, NotifySettings({"default": 60}, webhook=url))
    notifier.check()        # schedule:work and supervise every minute, queue:monitor --notify

The cooldown is a row of `queue_notifications` per queue, claimed by an upsert (as the
scheduler claims a run in `schedule_runs`): the process whose upsert moves the row notifies,
every other one sees the cooldown running and does nothing. A webhook or mail server that
fails costs one log line; the claim stands (at most once, never twice).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import smtplib
import socket
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from app.queue import events
from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.sql import load_queries

QUERIES = load_queries(Path(__file__).with_name("notify.sql"))

WEBHOOK_TIMEOUT = 5.0
"""Seconds a webhook may take to answer: a check must not hang on a slow receiver."""
MAIL_TIMEOUT = 10.0
"""Seconds for each step of the SMTP conversation."""

log = logging.getLogger("skiplock.notify")


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Where MAIL_URL (smtp://[user:password@]host[:port], smtps:// for TLS) sends."""

    host: str
    port: int
    to: tuple[str, ...]
    sender: str
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class NotifySettings:
    thresholds: Mapping[str, float]
    """Queue -> seconds its oldest pending job may wait (QUEUE_WAIT_THRESHOLDS)."""
    webhook: str | None = field(default=None, repr=False)
    """QUEUE_NOTIFY_WEBHOOK: a Slack-style incoming webhook's URL is its secret."""
    mail: MailSettings | None = None
    cooldown: float = 300.0
    """QUEUE_NOTIFY_COOLDOWN: seconds between two notifications of one queue."""
    check_every: float = 60.0
    """QUEUE_NOTIFY_CHECK_EVERY: seconds between two checks by schedule:work and supervise."""


@dataclass(frozen=True, slots=True)
class LongWait:
    queue: str
    seconds: float
    threshold: float


def message(connection: str, wait: LongWait) -> str:
    return (f"Skiplock: the oldest pending job of queue {wait.queue} ({connection}) has waited "
            f"{wait.seconds:.0f}s, over its threshold of {wait.threshold:g}s.")


class NotifyStore:
    """Runs notify.sql: one method per statement."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def _run(self, name: str, params: dict[str, Any]) -> list[Any]:
        with translated_errors(self.engine.url), self.autocommit.connect() as conn:
            return list(conn.execute(QUERIES[name], params))

    def oldest_waits(self, queues: list[str]) -> dict[str, float | None]:
        return {row.queue: row.wait for row in self._run("oldest_waits", {"queues": queues})}

    def claim(self, connection: str, wait: LongWait, cooldown: float, notified_by: str) -> bool:
        return bool(self._run("claim_notification", {
            "connection": connection, "queue": wait.queue, "wait": wait.seconds,
            "cooldown": cooldown, "notified_by": notified_by}))


class LongWaitNotifier:
    def __init__(self, engine: Engine, settings: NotifySettings, connection: str = "database",
                 identity: str | None = None,
                 say: Callable[[str], None] = log.warning) -> None:
        self.settings = settings
        self.connection = connection
        self.identity = identity or f"{socket.gethostname()}:{os.getpid()}"
        self.say = say
        self.store = NotifyStore(engine)

    def check(self) -> list[LongWait]:
        """Notify each queue over its threshold whose cooldown is over; return those this
        process notified (a queue another process just notified is not among them)."""
        claimed = [wait for wait in self.long_waits()
                   if self.store.claim(self.connection, wait, self.settings.cooldown,
                                       self.identity)]
        for wait in claimed:
            self.notify(wait)
        return claimed

    def long_waits(self) -> list[LongWait]:
        thresholds = self.settings.thresholds
        waits = self.store.oldest_waits(list(thresholds))
        return [LongWait(queue, seconds, thresholds[queue]) for queue, seconds in waits.items()
                if seconds is not None and seconds > thresholds[queue]]

    def notify(self, wait: LongWait) -> None:
        events.fire(events.LongWaitDetected(self.connection, wait.queue, wait.seconds))
        text = message(self.connection, wait)
        self.say(text)
        if self.settings.webhook is not None:
            self._post(self.settings.webhook, wait, text)
        if self.settings.mail is not None:
            self._mail(self.settings.mail, wait, text)

    def _post(self, url: str, wait: LongWait, text: str) -> None:
        try:
            post_json(url, {"text": text, "queue": wait.queue, "wait_seconds": wait.seconds})
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # The URL is not said: a Slack webhook's URL is its credential.
            self.say(f"the long-wait notification of queue {wait.queue} could not be posted to "
                     f"QUEUE_NOTIFY_WEBHOOK: {describe(exc)}")

    def _mail(self, mail: MailSettings, wait: LongWait, text: str) -> None:
        try:
            send_mail(mail, f"Long wait on queue {wait.queue}", text)
        except (OSError, smtplib.SMTPException) as exc:
            self.say(f"the long-wait notification of queue {wait.queue} could not be mailed "
                     f"through {mail.host}:{mail.port}: {describe(exc)}")


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def post_json(url: str, body: dict[str, Any]) -> None:
    """POST `body` as JSON; an answer other than 2xx raises (urllib's HTTPError).

    urllib.request rather than httpx: httpx is only a dev dependency, and one POST a few
    times an hour needs no client library."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "skiplock-notify"})
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as answer:
        answer.read()


def send_mail(mail: MailSettings, subject: str, text: str) -> None:
    letter = EmailMessage()
    letter["Subject"], letter["From"], letter["To"] = subject, mail.sender, ", ".join(mail.to)
    letter.set_content(text)
    smtp_class = smtplib.SMTP_SSL if mail.tls else smtplib.SMTP
    with smtp_class(mail.host, mail.port, timeout=MAIL_TIMEOUT) as smtp:
        if mail.username is not None:
            smtp.login(mail.username, mail.password or "")
        smtp.send_message(letter)
