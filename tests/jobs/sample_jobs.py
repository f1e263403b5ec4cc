"""Jobs for payload and dispatch tests."""

from __future__ import annotations

import enum
from typing import Any

from app.queue import Job


class Colour(enum.Enum):
    RED = "red"
    BLUE = 2


class Carry(Job):
    """Holds any value; its handle does nothing."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def handle(self) -> None:
        pass


class Derived(Job):
    """Sets an attribute that is not a constructor argument."""

    queue = "derived"
    priority = 4

    def __init__(self, n: int) -> None:
        self.n = n
        self.double = n * 2

    def handle(self) -> None:
        pass


class Grumpy(Job):
    """Its constructor refuses some values (as user code may)."""

    def __init__(self, n: int) -> None:
        if n < 0:
            raise ValueError("n must not be negative")
        self.n = n

    def handle(self) -> None:
        pass


class NotAJob:
    def __init__(self) -> None:
        pass


class Counted(Job):
    tries = 3
    backoff = 0
    calls: list[str] = []

    def __init__(self, fail_first: int = 0, abort: bool = False) -> None:
        self.fail_first = fail_first
        self.abort = abort

    def handle(self) -> None:
        Counted.calls.append(f"attempt {self.attempts}")
        if self.abort:
            from app.queue import Abort

            raise Abort("stop")
        if self.attempts <= self.fail_first:
            raise RuntimeError(f"failure {self.attempts}")

    def failed(self, error: BaseException) -> None:
        Counted.calls.append(f"failed {type(error).__name__}")


class Size(enum.StrEnum):
    SMALL = "s"


class Level(enum.IntEnum):
    HIGH = 1


class Palette:
    class Shade(enum.Enum):
        DARK = "dark"


class Watched(Job):
    """Counts its constructions; has a property and a classmethod a row must not replace."""

    constructed: list[Any] = []

    def __init__(self, **kwargs: Any) -> None:
        Watched.constructed.append(kwargs)
        self.__dict__.update(kwargs)

    @property
    def label(self) -> str:
        return "watched"

    def handle(self) -> None:
        pass


class Releases(Job):
    """Releases itself on its first `releases` attempts; records what happened."""

    tries = 3
    calls: list[str] = []

    def __init__(self, releases: int, delay: float = 0) -> None:
        self.releases = releases
        self.delay = delay

    def handle(self) -> None:
        Releases.calls.append(f"attempt {self.attempts}")
        self.progress(50, "half way")
        if self.attempts <= self.releases:
            self.release(self.delay)

    def failed(self, error: BaseException) -> None:
        Releases.calls.append(f"failed {type(error).__name__}")


class GivesUp(Job):
    tries = 5
    calls: list[str] = []

    def __init__(self) -> None:
        pass

    def handle(self) -> None:
        GivesUp.calls.append(f"attempt {self.attempts}")
        self.fail("nothing to do")

    def failed(self, error: BaseException) -> None:
        GivesUp.calls.append(f"failed {error}")


class AsyncFlaky(Job):
    """An `async def` handler that fails once, then succeeds."""

    tries = 2
    backoff = 0
    calls: list[int] = []

    def __init__(self) -> None:
        pass

    async def handle(self) -> None:
        AsyncFlaky.calls.append(self.attempts)
        if self.attempts == 1:
            raise RuntimeError("first attempt fails")
