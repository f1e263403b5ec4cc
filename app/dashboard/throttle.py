"""FailedTokens: how many wrong tokens each client sent lately, and when it may try again.

Kept in the dashboard process's memory: a restart forgets the count (a guesser gains a
minute's attempts per restart, nothing more), and each dashboard process counts on its own.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_CLIENTS = 10_000
"""Clients remembered at most: past it the one that failed least recently is forgotten, so
a flood of addresses cannot grow the process without bound."""


class FailedTokens:
    """At most `limit` wrong tokens per client in any `window` seconds; past that, every token
    the client sends is refused unchecked (a right one too: otherwise the refusal would tell
    a guesser when it had guessed right) until its oldest failure is `window` seconds old."""

    def __init__(self, limit: int, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        # Sync endpoints run in the thread pool, the middleware on the event loop.
        self._lock = threading.Lock()

    def wait_before_next(self, client: str) -> float:
        """Seconds before `client` may send a token again; 0 when it may now."""
        with self._lock:
            failures = self._recent(client)
            if len(failures) < self.limit:
                return 0.0
            return max(failures[0] + self.window - self.clock(), 0.0)

    def record(self, client: str) -> None:
        with self._lock:
            failures = self._recent(client)
            failures.append(self.clock())
            self._failures[client] = failures
            self._failures.move_to_end(client)
            while len(self._failures) > MAX_CLIENTS:
                self._failures.popitem(last=False)

    def _recent(self, client: str) -> deque[float]:
        """The client's failures within the window (older ones dropped)."""
        failures = self._failures.get(client, deque())
        horizon = self.clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures
