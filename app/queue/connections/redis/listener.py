"""The worker's wake-ups on Redis: sharded pub/sub (SSUBSCRIBE) on each of its queues' `wake`
and `cancel` channels. Sharded, so that in a Redis Cluster a push's SPUBLISH stays on its
queue's shard instead of being broadcast to every node."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import redis.exceptions as rx

from app.queue.connections.base import OutageReport
from app.queue.connections.redis.client import open_client
from app.queue.connections.redis.keys import QueueKeys


class RedisListener(threading.Thread):
    """Calls `wake()` for each push to one of its queues, and after every (re)connect
    (messages sent while it was away are lost: the worker must look again; the heartbeat
    reads lost cancels). `on_cancel` gets each `<worker> <job>` notice. Reconnects with
    backoff; never raises."""

    def __init__(self, url: str, cluster: bool, queues: Sequence[QueueKeys],
                 wake: Callable[[], None], outage: OutageReport,
                 on_cancel: Callable[[str], None] = lambda note: None) -> None:
        super().__init__(name="skiplock-redis-listener", daemon=True)
        self.url = url
        self.cluster = cluster
        self.wakes = {keys.wake_channel for keys in queues}
        self.cancels = {keys.cancel_channel for keys in queues}
        self.wake = wake
        self.on_cancel = on_cancel
        self.outage = outage
        self.ready = threading.Event()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        if self.ident is not None:  # started
            self.join(timeout=2.0)

    def run(self) -> None:
        delay = 0.5
        while not self._halt.is_set():
            pubsub: Any = None
            try:
                pubsub = open_client(self.url, self.cluster).pubsub()
                pubsub.ssubscribe(*sorted(self.wakes | self.cancels))
                self.outage.up("listener")
                delay = 0.5
                self.ready.set()
                self.wake()
                self._listen(pubsub)
            except (rx.RedisError, OSError) as exc:
                self.outage.down("listener", f"lost Redis ({exc})")
                self.ready.set()  # the worker must not wait for a listener that cannot connect
                self._halt.wait(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if pubsub is not None:
                    pubsub.close()

    def _listen(self, pubsub: Any) -> None:
        read = pubsub.get_sharded_message if self.cluster else pubsub.get_message
        while not self._halt.is_set():
            message = read(ignore_subscribe_messages=True, timeout=1.0)
            if message is None or message.get("type") != "smessage":
                continue
            channel = message["channel"]
            if channel in self.cancels:
                self.on_cancel(message["data"])
            elif channel in self.wakes:
                self.wake()
