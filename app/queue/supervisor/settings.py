"""What a supervisor is told to do (SPEC §16): its settings, checked once, before anything runs.

The console reads `SUPERVISORS` and `QUEUE_SUPERVISORS` (config/queue.py) and hands the raw
mappings here: the queue core checks them without importing config/.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from app.queue.errors import QueueError
from app.queue.names import check_queue_name


class SupervisorConfigError(QueueError):
    """A supervisor's settings cannot be used: one line naming the supervisor and the key."""


class Balance(StrEnum):
    AUTO = "auto"
    SIMPLE = "simple"
    OFF = "off"


class Strategy(StrEnum):
    TIME = "time"
    SIZE = "size"


WORKER_INTS = ("concurrency", "tries", "memory", "max_jobs")
WORKER_SECONDS = ("timeout", "max_time", "sleep")
DEFAULT_SLEEP = 3.0


@dataclass(frozen=True)
class SupervisorSettings:
    name: str
    connection: str
    queues: tuple[str, ...]
    balance: Balance
    processes: int
    min_processes: int
    max_processes: int
    balance_max_shift: int
    balance_cooldown: float
    auto_scaling_strategy: Strategy
    concurrency: int | None = None
    tries: int | None = None
    timeout: float | None = None
    memory: int | None = None
    max_jobs: int | None = None
    max_time: float | None = None
    sleep: float = DEFAULT_SLEEP

    def pools(self) -> tuple[str, ...]:
        """The pools of child processes: one per queue, or (balance off) one serving every
        queue in order, named by its `--queue` value."""
        if self.balance is Balance.OFF:
            return (",".join(self.queues),)
        return self.queues

    def worker_arguments(self) -> list[str]:
        """`queue:work` options every child of this supervisor gets."""
        args = ["--sleep", f"{self.sleep:g}"]
        for key in (*WORKER_INTS, *WORKER_SECONDS):
            value = getattr(self, key)
            if value is not None and key != "sleep":
                args += [f"--{key.replace('_', '-')}", f"{value:g}"]
        return args

    def as_json(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["queues"] = list(self.queues)
        shown["balance"] = self.balance.value
        shown["auto_scaling_strategy"] = self.auto_scaling_strategy.value
        return shown


KEYS = {"connection", "queues", "balance", "processes", "min_processes", "max_processes",
        "balance_max_shift", "balance_cooldown", "auto_scaling_strategy", *WORKER_INTS,
        *WORKER_SECONDS}


def merged(declared: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`QUEUE_SUPERVISORS` over `SUPERVISORS`: a supervisor named in both keeps the declared
    keys the override does not set, so an operator changes one number without restating all."""
    result = {name: dict(raw) if isinstance(raw, Mapping) else raw
              for name, raw in declared.items()}
    for name, raw in overrides.items():
        base = result.get(name)
        if isinstance(base, dict) and isinstance(raw, Mapping):
            base.update(raw)
        else:
            result[name] = raw
    return result


def parse_all(raw: Mapping[str, Any], connections: Iterable[str],
              default_queue: str) -> tuple[SupervisorSettings, ...]:
    """Every supervisor, checked; the first problem raises SupervisorConfigError."""
    known = tuple(connections)
    supervisors = tuple(parse_one(name, settings, known, default_queue)
                        for name, settings in raw.items())
    check_no_shared_unbalanced_queue(supervisors)
    return supervisors


def parse_one(name: object, raw: object, connections: tuple[str, ...],
              default_queue: str) -> SupervisorSettings:
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-." for c in name):
        raise SupervisorConfigError(
            f"supervisor name {name!r}: use letters, digits, '-', '_' or '.'")
    if not isinstance(raw, Mapping):
        raise SupervisorConfigError(f"supervisor {name}: its settings must be an object")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise SupervisorConfigError(f"supervisor {name}: unknown setting {unknown[0]!r} "
                                    f"(known: {', '.join(sorted(KEYS))})")
    read = SettingReader(name, raw)
    queues = read.queues(default_queue)
    min_processes = read.integer("min_processes", 1) or 1
    processes = read.integer("processes", 1)
    # Horizon's defaults: `processes` alone caps an auto pool; neither gives each queue its floor.
    max_processes = (read.integer("max_processes", 1) or processes
                     or min_processes * len(queues))
    settings = SupervisorSettings(
        name=name,
        connection=read.connection(connections),
        queues=queues,
        balance=read.choice("balance", Balance, Balance.AUTO),
        processes=processes or len(queues),
        min_processes=min_processes,
        max_processes=max_processes,
        balance_max_shift=read.integer("balance_max_shift", 1) or 1,
        balance_cooldown=read.seconds("balance_cooldown", 3.0, allow_zero=False) or 3.0,
        auto_scaling_strategy=read.choice("auto_scaling_strategy", Strategy, Strategy.TIME),
        concurrency=read.integer("concurrency", 1),
        tries=read.integer("tries", 1),
        timeout=read.seconds("timeout", None),
        memory=read.integer("memory", 1),
        max_jobs=read.integer("max_jobs", 1),
        max_time=read.seconds("max_time", None, allow_zero=False),
        sleep=read.seconds("sleep", DEFAULT_SLEEP) or 0.0,
    )
    check_process_counts(settings)
    return settings


class SettingReader:
    """Reads one supervisor's keys, each with its type; a wrong one is one line."""

    def __init__(self, name: str, raw: Mapping[str, Any]) -> None:
        self.name, self.raw = name, raw

    def refuse(self, key: str, what: str) -> SupervisorConfigError:
        return SupervisorConfigError(
            f"supervisor {self.name}: {key} must be {what}, not {self.raw[key]!r}")

    def connection(self, known: tuple[str, ...]) -> str:
        value = self.raw.get("connection", "database")
        if value not in known:
            raise SupervisorConfigError(
                f"supervisor {self.name}: unknown connection {value!r} "
                f"(a supervisor runs queue:work on: {', '.join(known)})")
        return str(value)

    def queues(self, default: str) -> tuple[str, ...]:
        value = self.raw.get("queues", [default])
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if not isinstance(value, list) or not value:
            raise self.refuse("queues", "a non-empty list of queue names")
        try:
            names = tuple(check_queue_name(queue) for queue in value)
        except (ValueError, TypeError) as exc:
            raise SupervisorConfigError(f"supervisor {self.name}: queues: {exc}") from None
        if len(set(names)) != len(names):
            raise self.refuse("queues", "a list without repeats")
        return names

    def choice(self, key: str, enum: type[Balance] | type[Strategy], default: Any) -> Any:
        value = self.raw.get(key, default.value)
        try:
            return enum(value)
        except ValueError:
            raise self.refuse(key, " or ".join(repr(e.value) for e in enum)) from None

    def integer(self, key: str, least: int) -> int | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise self.refuse(key, f"a whole number of at least {least}")
        return value

    def seconds(self, key: str, default: float | None, allow_zero: bool = True) -> float | None:
        value = self.raw.get(key)
        if value is None:
            return default
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero)):
            raise self.refuse(key, f"a number of seconds{'' if allow_zero else ' above 0'}"
                              f"{', 0 or more' if allow_zero else ''}")
        return float(value)


def check_process_counts(s: SupervisorSettings) -> None:
    """The counts must leave a plan: auto needs min per queue to fit under max; simple needs
    a process for each queue (an even split that starves a queue is no split)."""
    if s.balance is Balance.AUTO:
        if s.min_processes > s.max_processes:
            raise SupervisorConfigError(f"supervisor {s.name}: min_processes "
                                        f"({s.min_processes}) is above max_processes "
                                        f"({s.max_processes})")
        if s.min_processes * len(s.queues) > s.max_processes:
            raise SupervisorConfigError(
                f"supervisor {s.name}: min_processes {s.min_processes} for each of "
                f"{len(s.queues)} queues is above max_processes ({s.max_processes})")
    elif s.balance is Balance.SIMPLE and s.processes < len(s.queues):
        raise SupervisorConfigError(f"supervisor {s.name}: balance 'simple' splits processes "
                                    f"({s.processes}) across {len(s.queues)} queues: give "
                                    "at least one per queue")


def check_no_shared_unbalanced_queue(supervisors: tuple[SupervisorSettings, ...]) -> None:
    """A queue served by a balance-off supervisor and by another supervisor too: the second's
    balancing would count work the first also drains, and neither's numbers would mean what
    they say. Refused, as Horizon's docs advise one supervisor per queue."""
    owners: dict[tuple[str, str], str] = {}
    for s in supervisors:
        for queue in s.queues:
            other = owners.get((s.connection, queue))
            if other is not None:
                off = [n for n in (other, s.name) if by_name(supervisors, n).balance
                       is Balance.OFF]
                if off:
                    raise SupervisorConfigError(
                        f"queue {queue!r} is in supervisors {other} and {s.name}, and "
                        f"{off[0]} has balance 'off': give each queue one supervisor")
            owners[(s.connection, queue)] = s.name


def by_name(supervisors: tuple[SupervisorSettings, ...], name: str) -> SupervisorSettings:
    return next(s for s in supervisors if s.name == name)
