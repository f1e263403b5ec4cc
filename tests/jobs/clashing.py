"""Jobs whose arguments clash with the names Skiplock uses on every job, or with their own
methods: refused at dispatch, never stored."""

from __future__ import annotations

from app.queue import Job


class TakesAttempts(Job):
    """`attempts` is the attempt's number, set by Skiplock: this value would be lost."""

    def __init__(self, url: str, attempts: int = 3) -> None:
        self.url = url
        self.attempts = attempts

    def handle(self) -> None:
        pass


class TakesFail(Job):
    """`self.fail = fail` replaces Job.fail() on the instance."""

    def __init__(self, url: str, fail: bool = False) -> None:
        self.url = url
        self.fail = fail  # type: ignore[assignment,method-assign]

    def handle(self) -> None:
        pass


class StoresAttempts(Job):
    """Not an argument of that name, but the attribute is still Skiplock's."""

    def __init__(self, retries: int) -> None:
        self.attempts = retries

    def handle(self) -> None:
        pass


class StoresRelease(Job):
    def __init__(self, when: float) -> None:
        self.release = when  # type: ignore[assignment,method-assign]

    def handle(self) -> None:
        pass


class ShadowsItsOwnMethod(Job):
    """A worker would refuse this row (it would replace notify()): refused at dispatch."""

    def __init__(self, address: str) -> None:
        self.notify = address  # type: ignore[assignment,method-assign]

    def notify(self) -> None:
        pass

    def handle(self) -> None:
        pass


class TakesAnything(Job):
    """**kwargs: no parameter list to check, so its attributes are checked as they come."""

    def __init__(self, **options: object) -> None:
        self.__dict__.update(options)

    def handle(self) -> None:
        pass
