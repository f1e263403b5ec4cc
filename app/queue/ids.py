"""Job ids: ULIDs, strictly increasing within a process so that a batch keeps its order."""

from __future__ import annotations

import threading

from ulid import ULID

_lock = threading.Lock()
_last = 0


def new_id() -> str:
    global _last
    value = int(ULID())
    with _lock:
        # Two ULIDs of one millisecond differ in random bits; bump instead, so ids sort in
        # dispatch order (the claim's last tie-breaker).
        if value <= _last:
            value = _last + 1
        _last = value
    return str(ULID.from_int(value))
