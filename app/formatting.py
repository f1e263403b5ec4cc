"""How times and ages read wherever people see them: the console's tables and the dashboard."""

from __future__ import annotations

import datetime as dt


def iso(value: dt.datetime | None) -> str | None:
    """UTC, ISO 8601 (the JSON of the CLI and the API)."""
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def age(seconds: float | None) -> str:
    """3s, 4m 10s, 2h 5m, 3d 4h."""
    if seconds is None:
        return "-"
    whole = max(int(seconds), 0)
    for unit, size, sub_unit, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60),
                                           ("m", 60, "s", 1)):
        if whole >= size:
            return f"{whole // size}{unit} {whole % size // sub_size}{sub_unit}"
    return f"{whole}s"
