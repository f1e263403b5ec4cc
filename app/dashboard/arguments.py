"""What of a job's stored payload a page or an API answer may show."""

from __future__ import annotations

from typing import Any

ENCRYPTED = "[encrypted]"


def visible_arguments(payload: Any) -> Any:
    """The arguments of a stored payload as they may be shown: the payload's `data`, or
    `[encrypted]` for a payload marked encrypted (its ciphertext is never shown either).

    The one place pages and the API take arguments from: encryption (SPEC §10) extends this
    function, and nothing else has to change for its arguments never to be rendered.
    """
    if not isinstance(payload, dict):
        return None
    if payload.get("encrypted"):
        return ENCRYPTED
    return payload.get("data", {})
