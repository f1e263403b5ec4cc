"""The child processes of one supervisor: real `queue:work` workers, started, stopped, reaped
and restarted here (Horizon's ProcessPool and its process restarts).

A child is named `<supervisor>-<n>` (n the lowest number free), serves one pool's queues and
lives in its own process group, so a terminal's Ctrl-C reaches the supervisor alone, which
then stops its children in order. On Linux each child asks the kernel for SIGTERM when the
supervisor dies (PR_SET_PDEATHSIG, through ctypes): a supervisor killed with SIGKILL leaves no
orphan, and its children still finish their running jobs before they exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from app.queue.supervisor.settings import SupervisorSettings

PR_SET_PDEATHSIG = 1
BACKOFF_CAP = 60.0
"""Seconds between restarts of a pool whose children keep crashing, at most."""
HEALTHY_AFTER = 60.0
"""A child that ran this long before it died was not part of a crash loop."""
LOG_EVERY = 60.0
"""Exits of one pool are logged at most once per this many seconds (the rest are counted)."""


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


PRCTL = _libc_prctl()


def die_with(parent: int) -> Callable[[], None]:
    """preexec_fn: SIGTERM this child when `parent` dies. Checked again after the call, as the
    parent may have died between the fork and the prctl."""
    def arrange() -> None:
        if PRCTL is not None:
            PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
    return arrange


@dataclass
class Child:
    number: int
    pool: str
    proc: subprocess.Popen[bytes]
    started: float
    stopping: bool = False


@dataclass
class RestartPolicy:
    """When a pool may start its next child, and whether an exit is worth a log line: a
    crash loop backs off 1, 2, 4 … 60 s and logs one line a minute, not one per crash."""

    crashes: int = 0
    not_before: float = 0.0
    last_logged: float = float("-inf")
    unlogged: int = 0

    def exited(self, crashed: bool, ran_for: float, now: float) -> None:
        if not crashed or ran_for >= HEALTHY_AFTER:
            self.crashes = 0
        if crashed:
            self.crashes += 1
            self.not_before = now + min(BACKOFF_CAP, 2.0 ** (self.crashes - 1))
        else:
            self.not_before = now

    def may_start(self, now: float) -> bool:
        return now >= self.not_before

    def should_log(self, now: float) -> bool:
        """True at most once per LOG_EVERY; the exits in between are counted in `unlogged`."""
        if now - self.last_logged >= LOG_EVERY:
            self.last_logged = now
            return True
        self.unlogged += 1
        return False

    def take_unlogged(self) -> int:
        count, self.unlogged = self.unlogged, 0
        return count


@dataclass
class ChildPool:
    settings: SupervisorSettings
    command: Sequence[str]
    """argv of `queue:work` (the console's: python, artisan.py, queue:work)."""
    log: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    children: dict[int, Child] = field(default_factory=dict)
    policies: dict[str, RestartPolicy] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Processes per pool, not counting those told to stop."""
        counts = dict.fromkeys(self.settings.pools(), 0)
        for child in self.children.values():
            if not child.stopping:
                counts[child.pool] = counts.get(child.pool, 0) + 1
        return counts

    def draining(self) -> int:
        return sum(child.stopping for child in self.children.values())

    def is_empty(self) -> bool:
        return not self.children

    def reap(self) -> None:
        """Forget children that exited; those that were not told to stop count as exits of
        their pool (a crash when the exit code is not 0)."""
        now = self.clock()
        for number, child in list(self.children.items()):
            code = child.proc.poll()
            if code is None:
                continue
            del self.children[number]
            if not child.stopping:
                self.unasked_exit(child, code, now)

    def unasked_exit(self, child: Child, code: int, now: float) -> None:
        policy = self.policies.setdefault(child.pool, RestartPolicy())
        crashed = code != 0
        policy.exited(crashed, now - child.started, now)
        if not policy.should_log(now):
            return
        name = f"{self.settings.name}-{child.number}"
        how = (f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
               if crashed else "exited (max jobs, max time, memory or queue:restart)")
        more = policy.take_unlogged()
        since = f"; {more} more exits of its pool since the last line" if more else ""
        then = (f"restarting in {policy.not_before - now:.0f}s" if crashed else "replaced")
        self.log(f"{name} (queue {child.pool}) {how}{since}: {then}")

    def scale(self, target: Mapping[str, int]) -> None:
        """Start or stop children until each pool has its target (stopping the newest first;
        a pool backing off after crashes waits for its time)."""
        now = self.clock()
        counts = self.counts()
        for pool in self.settings.pools():
            want, have = target.get(pool, 0), counts.get(pool, 0)
            if have > want:
                self.stop_newest(pool, have - want)
            policy = self.policies.setdefault(pool, RestartPolicy())
            while have < want and policy.may_start(now):
                self.start(pool, now)
                have += 1

    def start(self, pool: str, now: float) -> None:
        number = self.free_number()
        args = [*self.command, "--queue", pool, "--name", f"{self.settings.name}-{number}",
                *self.settings.worker_arguments()]
        proc = subprocess.Popen(args, preexec_fn=die_with(os.getpid()), process_group=0)
        self.children[number] = Child(number, pool, proc, now)

    def free_number(self) -> int:
        number = 1
        while number in self.children:
            number += 1
        return number

    def stop_newest(self, pool: str, count: int) -> None:
        running = sorted((c for c in self.children.values() if c.pool == pool and not c.stopping),
                         key=lambda c: c.started, reverse=True)
        for child in running[:count]:
            self.stop(child)

    def stop(self, child: Child) -> None:
        """SIGTERM: the child stops claiming, finishes its running jobs (up to their timeout)
        and exits."""
        child.stopping = True
        with contextlib.suppress(ProcessLookupError):  # exited meanwhile: reaped next loop
            child.proc.send_signal(signal.SIGTERM)

    def stop_all(self) -> None:
        for child in self.children.values():
            if not child.stopping:
                self.stop(child)

    def kill_all(self) -> None:
        """SIGKILL, for a second Ctrl-C: their jobs go back by QUEUE_RETRY_AFTER."""
        for child in self.children.values():
            child.stopping = True
            with contextlib.suppress(ProcessLookupError):
                child.proc.kill()

    def pids(self) -> list[int]:
        return [child.proc.pid for child in self.children.values()]
