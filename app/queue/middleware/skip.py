"""Skip: finish a job without running it (it is deleted, as a success), on a condition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.queue.job import Job
from app.queue.pipeline import Next

Condition = bool | Callable[[Job], object]


class Skip:
    """`Skip.when(lambda job: job.order_id == 0)` or `Skip.unless(...)`; a bool works too."""

    def __init__(self, condition: Condition, skip_when: bool) -> None:
        if not (isinstance(condition, bool) or callable(condition)):
            raise TypeError(f"Skip takes a bool or a function of the job, not {condition!r}")
        self.condition = condition
        self.skip_when = skip_when

    @classmethod
    def when(cls, condition: Condition) -> Skip:
        return cls(condition, skip_when=True)

    @classmethod
    def unless(cls, condition: Condition) -> Skip:
        return cls(condition, skip_when=False)

    def handle(self, job: Job, next: Next) -> Any:
        holds = self.condition(job) if callable(self.condition) else self.condition
        if bool(holds) is self.skip_when:
            return None
        return next(job)
