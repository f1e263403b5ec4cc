"""ZzTmpGeneratedJob: a job meant to run inline, in the caller's process.

Run it with `dispatch_sync(ZzTmpGeneratedJob())`: it runs now and its error, if any, is raised to
the caller. (It is still a Job: `ZzTmpGeneratedJob.dispatch()` would queue it for a worker.)
"""

from __future__ import annotations

import logging

from app.queue import Job

log = logging.getLogger(__name__)


class ZzTmpGeneratedJob(Job):
    tries = 1  # inline: the caller gets the error at once instead of waiting for retries

    def __init__(self) -> None:
        # Add the arguments this job needs, e.g. `def __init__(self, user_id: int)`.
        pass

    def handle(self) -> None:
        """Do the work, now."""
        log.info("ZzTmpGeneratedJob ran")
