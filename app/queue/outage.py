"""One line when the database goes away, one when the whole worker has it back.

The claim loop, the listener and the heartbeat each hold their own connection and each notices
a lost database on its own. Logging each of them would print up to six lines for one blip; an
operator wants to read "it went away, here is why" and "it is back after N s".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class OutageLog:
    """Shared by the parts of one worker process; safe to call from any thread."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self._lock = threading.Lock()
        self._down: set[str] = set()
        self._since: float | None = None

    def down(self, part: str, reason: object) -> None:
        """`part` cannot reach the database. Logged only if nothing else was down already."""
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()
                self.log(f"{reason} (noticed by the {part}); retrying until it is back")
            self._down.add(part)

    def is_down(self, part: str) -> bool:
        return part in self._down

    def up(self, part: str) -> None:
        """`part` talked to the database again. Logged when no part is down any more."""
        if part not in self._down:  # the usual case, on every claim: no lock needed to see it
            return
        with self._lock:
            if part not in self._down:
                return
            self._down.discard(part)
            if not self._down and self._since is not None:
                self.log(f"database is back after {time.monotonic() - self._since:.1f}s")
                self._since = None
