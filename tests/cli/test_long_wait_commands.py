"""Long-wait notifications from the real commands: two `schedule:work` processes checking
together notify once per cooldown (and one goes on when the other stops), `queue:monitor
--notify` for cron, and a bad setting said in one line naming its key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.queue import dispatch
from tests.jobs.basic import Record
from tests.receivers import smtp_receiver, webhook_receiver
from tests.support import ROOT, artisan, wait_for

COOLDOWN = 3.0


def waiting(engine: sa.Engine, queue: str, seconds: float) -> None:
    job_id = dispatch(Record(f"waits-{queue}"), queue=queue)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE jobs SET available_at = now() - make_interval(secs => :s) "
                             "WHERE id = :id"), {"s": seconds, "id": job_id})


def notify_env(webhook: str, mail_url: str | None = None) -> dict[str, str]:
    env = {"QUEUE_WAIT_THRESHOLDS": '{"default": 60, "emails": 600}',
           "QUEUE_NOTIFY_WEBHOOK": webhook, "QUEUE_NOTIFY_COOLDOWN": str(COOLDOWN),
           "QUEUE_NOTIFY_CHECK_EVERY": "0.5"}
    if mail_url:
        env.update(MAIL_URL=mail_url, MAIL_TO="ops@example.com,oncall@example.com")
    return env


def start_scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "artisan.py", "schedule:work"], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env})


def notices(log: Path) -> int:
    return log.read_text().count("SCHEDULE Skiplock: the oldest pending job of queue default")


def test_two_schedule_work_processes_notify_once_per_cooldown(queue, engine, tmp_path) -> None:
    waiting(engine, "default", 120)
    waiting(engine, "emails", 120)  # under its 600 s: never notified
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with webhook_receiver() as hook, smtp_receiver() as box:
        schedulers = [start_scheduler(notify_env(hook.url, box.url), log) for log in logs]
        try:
            assert wait_for(lambda: len(hook.posts) >= 1, timeout=30), logs[0].read_text()
            first = hook.posts[0][0]
            # Both check every 0.5 s: ~10 checks within the cooldown, not one notification.
            time.sleep(first + COOLDOWN - 0.5 - time.time())
            assert len(hook.posts) == 1
            assert all(s.poll() is None for s in schedulers)
            assert wait_for(lambda: len(hook.posts) >= 2, timeout=COOLDOWN + 5)
            assert hook.posts[1][0] - first >= COOLDOWN - 0.2

            # The one that sent the last stops; the other sends the next, a cooldown later.
            sender = [s.pid for s in schedulers].index(last_sender_pid(engine))
            schedulers[sender].send_signal(signal.SIGTERM)
            assert schedulers[sender].wait(timeout=30) == 0
            before = notices(logs[1 - sender])
            assert wait_for(lambda: len(hook.posts) >= 3, timeout=COOLDOWN + 5)
            assert hook.posts[2][0] - hook.posts[1][0] >= COOLDOWN - 0.2
            assert wait_for(lambda: notices(logs[1 - sender]) == before + 1, timeout=5)
        finally:
            for scheduler in schedulers:
                scheduler.terminate()
                scheduler.wait(timeout=30)
        posts, mails = len(hook.posts), len(box.mails)
    assert {body["queue"] for body in hook.bodies} == {"default"}
    assert posts == mails == notices(logs[0]) + notices(logs[1])
    assert all(recipients == ["ops@example.com", "oncall@example.com"]
               for _at, _sender, recipients, _mail in box.mails)


def test_a_notification_on_its_way_is_finished_when_schedule_work_stops(queue, engine,
                                                                       tmp_path) -> None:
    waiting(engine, "default", 120)
    with webhook_receiver(delay=2) as hook, smtp_receiver() as box:
        scheduler = start_scheduler(notify_env(hook.url, box.url), tmp_path / "a.log")
        try:
            assert wait_for(lambda: len(hook.posts) == 1, timeout=30)
            scheduler.send_signal(signal.SIGTERM)  # the webhook still answering, no mail yet
            assert scheduler.wait(timeout=30) == 0
        finally:
            if scheduler.poll() is None:
                scheduler.kill()
                scheduler.wait()
        assert len(box.mails) == 1, (tmp_path / "a.log").read_text()


def last_sender_pid(engine: sa.Engine) -> int:
    """The pid of the process that sent the queue's last notification (notified_by)."""
    with engine.connect() as conn:
        by = conn.execute(sa.text("SELECT notified_by FROM queue_notifications "
                                  "WHERE queue = 'default'")).scalar_one()
    return int(by.rpartition(":")[2])


def test_queue_monitor_notify_posts_once_per_cooldown_and_keeps_its_json(queue, engine) -> None:
    waiting(engine, "default", 120)
    with webhook_receiver() as hook:
        env = {**notify_env(hook.url), "QUEUE_NOTIFY_COOLDOWN": "300"}
        first = artisan("queue:monitor", "default", "--notify", "--json", env=env)
        again = artisan("queue:monitor", "default", "--notify", "--json", env=env)
    assert first.returncode == again.returncode == 0, first.stderr
    assert json.loads(first.stdout)["queues"][0]["queue"] == "default"  # stdout: JSON only
    assert first.stderr.startswith("Skiplock: the oldest pending job of queue default")
    assert again.stderr == ""
    assert [body["queue"] for body in hook.bodies] == ["default"]


def test_queue_monitor_notify_without_thresholds_does_nothing(queue, engine) -> None:
    waiting(engine, "default", 120)
    result = artisan("queue:monitor", "--notify", env={"QUEUE_WAIT_THRESHOLDS": ""})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(("command", "env", "line"), [
    (["queue:monitor", "--notify"], {"QUEUE_WAIT_THRESHOLDS": '{"default": "soon"}'},
     "error: invalid value for QUEUE_WAIT_THRESHOLDS: '{\"default\": \"soon\"}' (the seconds "
     "of queue 'default' must be a number above 0)"),
    (["schedule:work"], {"QUEUE_WAIT_THRESHOLDS": '{"default": 60}',
                         "MAIL_URL": "smtp://127.0.0.1:2525", "MAIL_TO": ""},
     "error: MAIL_TO must name at least one address when MAIL_URL is set"),
])
def test_a_bad_notification_setting_is_one_line_naming_its_key(queue, command, env,
                                                                line) -> None:
    result = artisan(*command, env=env, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [line]
