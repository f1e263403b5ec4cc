"""Scheduler settings (SPEC §11), read from the environment after `.env` is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from config import env


def module_name(raw: str) -> str:
    if not all(part.isidentifier() for part in raw.split(".")):
        raise ValueError("must be a dotted module name, e.g. app.schedule")
    return raw


def zone_name(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ValueError, KeyError):
        raise ValueError("must be a time zone name, e.g. UTC or Europe/Paris") from None
    return raw


@dataclass(frozen=True)
class ScheduleConfig:
    module: str
    timezone: str


def load() -> ScheduleConfig:
    return ScheduleConfig(
        module=env("SCHEDULE_MODULE", "app.schedule", module_name),
        timezone=env("SCHEDULE_TIMEZONE", "UTC", zone_name),
    )
