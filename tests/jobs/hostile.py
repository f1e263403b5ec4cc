"""Jobs that attack the worker process itself rather than fail: a failed() hook that never
returns, a thread that keeps the interpreter alive, a fork, damage to stdout, a flood of output.
Each records in the ledger what it did, so a test can tell how far it got."""

from __future__ import annotations

import os
import sys
import threading
import time

from app.queue import Job
from tests.jobs.basic import record


class HookNeverReturns(Job):
    """Fails at once; its failed() hook then sleeps in C, where no exception can reach it."""

    tries = 1
    timeout = 2

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        record(self, "start", self.tag)
        raise RuntimeError("planned failure")

    def failed(self, error: BaseException) -> None:
        record(self, "hook start", self.tag)
        time.sleep(10**6)


class HookSpins(HookNeverReturns):
    """Its failed() hook loops in Python: the timeout can interrupt it."""

    def failed(self, error: BaseException) -> None:
        record(self, "hook start", self.tag)
        while True:
            pass


class LeavesAThread(Job):
    """Starts a non-daemon thread that outlives the job (and would keep Python from exiting)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        threading.Thread(target=lambda: time.sleep(10**6), daemon=False).start()
        record(self, "end", self.tag)


class Forks(Job):
    """Forks; the child returns from handle() into whatever called it, the parent waits."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        pid = os.fork()
        if pid == 0:
            return
        os.waitpid(pid, 0)
        record(self, "end", self.tag)


class ForksASleeper(Job):
    """Forks a child that sleeps for good (and is no concern of its parent's)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        if os.fork() == 0:
            time.sleep(10**6)
        record(self, "end", self.tag)


class ClosesStdout(Job):
    """`how`: "object" closes sys.stdout, "fd" closes file descriptor 1 under it."""

    def __init__(self, tag: str, how: str) -> None:
        self.tag = tag
        self.how = how

    def handle(self) -> None:
        if self.how == "object":
            sys.stdout.close()
        else:
            os.close(1)
        record(self, "end", self.tag)


class PrintsALot(Job):
    """Prints `megabytes` MB to stdout in one print() call."""

    def __init__(self, tag: str, megabytes: int) -> None:
        self.tag = tag
        self.megabytes = megabytes

    def handle(self) -> None:
        print(("x" * 1023 + "\n") * 1024 * self.megabytes, end="")
        record(self, "end", self.tag)


class RegistersAtexit(Job):
    """Registers an atexit handler that creates `path`: code may count on it at exit."""

    def __init__(self, path: str) -> None:
        self.path = path

    def handle(self) -> None:
        import atexit

        atexit.register(lambda: open(self.path, "w").close())
