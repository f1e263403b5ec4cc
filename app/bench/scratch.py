"""The scratch queue a bench runs on, and the promise to leave the database as it was found.

Real jobs are never touched: every row the bench writes is on a queue named
`bench-<random>`, its workers are named after that queue, and on the way out — after success,
an error or Ctrl-C — its jobs, failed jobs, worker rows and pause are deleted and its worker
processes stopped.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from app.bench.bench_noop import BENCH_JOBS
from app.bench.store import BenchStore
from app.bench.workers import WorkerGroup
from app.queue.context import QueueContext


class Scratch:
    def __init__(self, ctx: QueueContext, max_time: float) -> None:
        token = secrets.token_hex(5)
        self.queue = f"bench-{token}"
        self.id_prefix = token  # 10 characters: backlog ids are 26 long, like ULIDs
        self.ctx = ctx
        self.jobs = ctx.store
        self.store = BenchStore(ctx.store.engine)
        self.max_time = max_time
        self.directory = Path(tempfile.mkdtemp(prefix="skiplock-bench-"))
        self.groups: list[WorkerGroup] = []
        self.checkpoint = True
        self.vacuum_at_exit = False

    def __enter__(self) -> Scratch:
        # dispatch_many takes each job's queue from its class; these are the bench's own
        # classes, so pointing them at the scratch queue for the run changes nothing else.
        for job_class in BENCH_JOBS:
            job_class.queue = self.queue
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            for group in self.groups:
                group.kill()  # before the rows go: a live worker would register again
            self.store.forget(self.queue)
            if self.vacuum_at_exit:
                self.store.vacuum_jobs()  # a million dead rows: reclaim them now
        finally:
            for job_class in BENCH_JOBS:
                job_class.queue = None
            shutil.rmtree(self.directory, ignore_errors=True)

    def settle(self) -> None:
        """ANALYZE and CHECKPOINT before a window (remembers if CHECKPOINT was refused)."""
        self.checkpoint = self.store.settle() and self.checkpoint

    def workers(self, run: str, count: int, concurrency: int | None) -> WorkerGroup:
        """Start `count` workers on the scratch queue, each with its ledger in `run`'s folder
        (numbered: a figure may drain several times)."""
        folder = self.directory / f"{run}-{len(self.groups)}"
        folder.mkdir()
        group = WorkerGroup(self.store, self.queue, count, concurrency, folder,
                            self.ctx.settings.job_packages, self.ctx.settings.listen,
                            self.max_time)
        self.groups.append(group)
        group.start()
        return group

    def forget_workers(self) -> None:
        """Between runs: the next run's totals must count only its own workers."""
        self.store.forget_workers(self.queue)
