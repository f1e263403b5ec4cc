"""Job middleware (SPEC §10): code around `handle()`, named in the job's `middleware()`.

    from app.queue.middleware import RateLimited, WithoutOverlapping

    class CallPartnerApi(Job):
        def middleware(self):
            return [RateLimited("partner-api", limit=10, per=1.0),
                    WithoutOverlapping(f"order:{self.order_id}")]

A middleware is any object with `handle(self, job, next)`; `next(job)` runs the rest of the
pipeline and `handle()`. Not calling it skips the job (it counts as done); `hold_back(job,
seconds)` instead puts it back without counting an attempt, as the limits here do. Limits live
in PostgreSQL (job_limits), so they hold across every worker process and host.
"""

from __future__ import annotations

from app.queue.middleware.concurrency import ConcurrencyLimit, WithoutOverlapping
from app.queue.middleware.rate import RateLimited
from app.queue.middleware.skip import Skip
from app.queue.middleware.throttle import ThrottlesExceptions
from app.queue.pipeline import MiddlewareError, hold_back

__all__ = [
    "ConcurrencyLimit", "MiddlewareError", "RateLimited", "Skip", "ThrottlesExceptions",
    "WithoutOverlapping", "hold_back",
]
