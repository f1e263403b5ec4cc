"""SupervisorStore: the supervisors' rows and history (SQL in supervisors.sql). The only code
that runs those statements; each method is one of them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.sql import load_queries
from app.queue.supervisor.balancer import QueueLoad

SQL = load_queries(Path(__file__).with_name("supervisors.sql"))

STALE_SECONDS = 15.0
"""A supervisor silent this long is dead to the control commands and the status (it beats
every second or faster)."""
PENDING_CAP = 100_000
"""Pending jobs counted per queue per tick at most (see tick in supervisors.sql)."""


@dataclass(frozen=True, slots=True)
class Beat:
    """One supervisor's row as its tick writes it."""

    id: str
    name: str
    host: str
    pid: int
    connection: str
    state: str
    settings: Mapping[str, Any]
    processes: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class TickAnswer:
    wanted: dict[str, str]
    """supervisor id -> the state it is asked for (running, paused, terminated)."""
    loads: dict[str, QueueLoad]


@dataclass(frozen=True, slots=True)
class SupervisorInfo:
    id: str
    name: str
    host: str
    pid: int
    connection: str
    state: str
    wanted: str
    settings: dict[str, Any]
    processes: dict[str, int]
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    heartbeat_age: float
    stopped_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Any) -> SupervisorInfo:
        return cls(id=row.id, name=row.name, host=row.host, pid=row.pid,
                   connection=row.connection, state=row.state, wanted=row.wanted,
                   settings=dict(row.settings), processes=dict(row.processes),
                   started_at=row.started_at, heartbeat_at=row.heartbeat_at,
                   heartbeat_age=float(row.heartbeat_age), stopped_at=row.stopped_at)


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    minute: dt.datetime
    supervisor: str
    pool: str
    processes: int


class SupervisorStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def tick(self, beats: Sequence[Beat], queues: Sequence[str]) -> TickAnswer:
        rows = json.dumps([{"id": b.id, "name": b.name, "host": b.host, "pid": b.pid,
                            "connection": b.connection, "state": b.state,
                            "settings": b.settings, "processes": b.processes}
                           for b in beats])
        wanted: dict[str, str] = {}
        loads: dict[str, QueueLoad] = {}
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            for row in conn.execute(SQL["tick"], {"rows": rows, "queues": list(queues),
                                                  "cap": PENDING_CAP}):
                if row.kind == "supervisor":
                    wanted[row.key] = row.wanted
                else:
                    loads[row.key] = QueueLoad(int(row.pending), row.mean_runtime)
        return TickAnswer(wanted, loads)

    def stop(self, ids: Sequence[str]) -> None:
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            conn.execute(SQL["stop_supervisors"], {"ids": list(ids)})

    def forget_old(self, days: int) -> None:
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            conn.execute(SQL["forget_old_supervisors"], {"days": days})

    def ask(self, wanted: str, name: str | None = None) -> list[tuple[str, str, int]]:
        """Ask the live supervisors (of `name`) for `wanted`: (name, host, pid) of each."""
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            return [(r.name, r.host, r.pid) for r in conn.execute(
                SQL["ask_supervisors"], {"wanted": wanted, "name": name,
                                         "stale": STALE_SECONDS})]

    def supervisors(self) -> list[SupervisorInfo]:
        with translated_errors(self.engine.url), self.engine.connect() as conn:
            return [SupervisorInfo.from_row(row) for row in conn.execute(
                SQL["list_supervisors"], {"stale": STALE_SECONDS})]

    def history(self, minutes: int) -> list[HistoryPoint]:
        with translated_errors(self.engine.url), self.engine.connect() as conn:
            return [HistoryPoint(r.minute, r.supervisor, r.pool, r.processes)
                    for r in conn.execute(SQL["process_history"], {"minutes": minutes})]
