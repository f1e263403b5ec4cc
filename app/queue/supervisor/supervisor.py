"""`supervise`: the supervisors of one process, their tick, their signals (Horizon's
MasterSupervisor and Supervisor, in one loop).

Every LOOP_SECONDS the loop reaps exited children and brings each pool to its target. Every
tick it runs one statement (SupervisorStore.tick) for all its supervisors: heartbeat and
processes written, the state each is asked for and the queues' work read; an auto supervisor
re-balances once per `balance_cooldown`. SIGTERM or SIGINT (or supervise:terminate) stops
every child gracefully and exits 0 once they are gone; a second SIGINT kills them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import FrameType

from app.queue.errors import QueueDatabaseError
from app.queue.ids import new_id
from app.queue.supervisor import balancer
from app.queue.supervisor.pool import ChildPool
from app.queue.supervisor.settings import Balance, SupervisorSettings
from app.queue.supervisor.store import Beat, SupervisorStore, TickAnswer

LOOP_SECONDS = 0.1
FORGET_EVERY = 3600.0
HISTORY_DAYS = 7


class State(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    TERMINATING = "terminating"


def tick_seconds(supervisors: Sequence[SupervisorSettings]) -> float:
    """Beat once a second, or twice per the shortest cooldown when that is shorter, so a
    balance never waits a whole extra tick for its numbers."""
    return max(0.2, min([1.0, *(s.balance_cooldown / 2 for s in supervisors)]))


@dataclass
class Supervisor:
    settings: SupervisorSettings
    pool: ChildPool
    id: str = field(default_factory=new_id)
    state: State = State.RUNNING
    target: dict[str, int] = field(default_factory=dict)
    balanced_at: float = float("-inf")

    def __post_init__(self) -> None:
        self.target = balancer.target(self.settings, {}, {})

    def rebalance(self, answer: TickAnswer, now: float) -> None:
        """A new target for an auto supervisor once its cooldown has passed (simple and off
        keep theirs)."""
        if self.settings.balance is not Balance.AUTO or self.state is not State.RUNNING:
            return
        if now - self.balanced_at < self.settings.balance_cooldown:
            return
        before = self.target
        self.target = balancer.target(self.settings, before, answer.loads, self.pool.draining())
        if self.target != before:
            self.balanced_at = now

    def obey(self, wanted: str | None, log: Callable[[str], None]) -> None:
        """Follow supervise:pause/continue/terminate, asked from any host."""
        if self.state is State.TERMINATING or wanted is None:
            return
        if wanted == "terminated":
            log(f"{self.settings.name}: terminate asked: stopping its processes")
            self.terminate()
        elif wanted == "paused" and self.state is State.RUNNING:
            log(f"{self.settings.name}: paused: stopping its processes")
            self.state = State.PAUSED
        elif wanted == "running" and self.state is State.PAUSED:
            log(f"{self.settings.name}: continued")
            self.state = State.RUNNING
            self.target = balancer.target(self.settings, {}, {})

    def terminate(self) -> None:
        self.state = State.TERMINATING
        self.pool.stop_all()

    def converge(self) -> None:
        self.pool.reap()
        if self.state is State.RUNNING:
            self.pool.scale(self.target)
        elif self.state is State.PAUSED:
            self.pool.scale({})
        else:  # terminating: idempotent, and no child escapes being told
            self.pool.stop_all()

    def is_done(self) -> bool:
        return self.state is State.TERMINATING and self.pool.is_empty()

    def beat(self, host: str, pid: int) -> Beat:
        return Beat(self.id, self.settings.name, host, pid, self.settings.connection,
                    self.state.value, self.settings.as_json(), self.pool.counts())


class Supervision:
    """The supervisors of one `supervise` process."""

    def __init__(self, store: SupervisorStore, settings: Sequence[SupervisorSettings],
                 command: Sequence[str], log: Callable[[str], None]) -> None:
        self.store = store
        self.log = log
        self.supervisors = [Supervisor(s, ChildPool(s, command, log)) for s in settings]
        self.queues = sorted({q for s in settings for q in s.queues})
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.tick_every = tick_seconds(settings)
        self.signals = 0
        self.received: list[signal.Signals] = []
        self.outage = False

    def run(self) -> int:
        self.install_signal_handlers()
        self.forget_old()
        forgotten_at = next_tick = time.monotonic()
        while not all(s.is_done() for s in self.supervisors):
            self.handle_signals()
            now = time.monotonic()
            if now >= next_tick:
                self.tick(now)
                next_tick = now + self.tick_every
            if now - forgotten_at >= FORGET_EVERY:
                self.forget_old()
                forgotten_at = now
            for supervisor in self.supervisors:
                supervisor.converge()
            time.sleep(LOOP_SECONDS)
        self.record_stop()
        return 0

    def tick(self, now: float) -> None:
        try:
            answer = self.store.tick([s.beat(self.host, self.pid) for s in self.supervisors],
                                     self.queues)
        except QueueDatabaseError as exc:
            if not self.outage:  # one line per outage; the children ride it out themselves
                self.log(f"database unavailable ({exc}): keeping the processes running, "
                         "retrying every tick")
            self.outage = True
            return
        if self.outage:
            self.log("database back")
            self.outage = False
        for supervisor in self.supervisors:
            supervisor.obey(answer.wanted.get(supervisor.id), self.log)
            supervisor.rebalance(answer, now)

    def forget_old(self) -> None:
        # An outage is the tick's to report; old rows wait for the next try.
        with contextlib.suppress(QueueDatabaseError):
            self.store.forget_old(HISTORY_DAYS)

    def record_stop(self) -> None:
        try:
            self.store.stop([s.id for s in self.supervisors])
        except QueueDatabaseError as exc:
            self.log(f"could not record the stop ({exc}): the status shows it dead shortly")

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only noted here: the loop acts on it within LOOP_SECONDS, outside the handler, so
        # a log line never re-enters a write the signal interrupted.
        self.received.append(signal.Signals(signum))

    def handle_signals(self) -> None:
        while self.received:
            signum = self.received.pop(0)
            self.signals += 1
            if self.signals == 1:
                self.log(f"{signum.name}: stopping every process after its running jobs")
                for supervisor in self.supervisors:
                    supervisor.terminate()
            elif signum is signal.SIGINT:
                self.log("second SIGINT: killing the processes (their jobs go back after "
                         "QUEUE_RETRY_AFTER)")
                for supervisor in self.supervisors:
                    supervisor.pool.kill_all()
