"""The worker: claim jobs, run them, record what happened.

    loop.py        Worker: the loop itself (claim, run, record) and its stop conditions
    ahead.py       the claim, and claim-ahead: the jobs a one-slot worker holds beside the one
                   it runs
    running.py     on a job thread or the event loop: decode, run one attempt, post its result
    inbox.py       back on the main thread: posted results, wake-ups, cancel notices
    recording.py   outcomes, acknowledgements, metrics
    stopping.py    what a stopping worker waits for, its exit, the quit on a second Ctrl-C
    options.py     WorkerOptions, StopReason, JobEvent; state.py what the parts share
    slot.py        one claimed job as the worker tracks it
    threads.py     the job threads; event_loop.py the one loop every async job shares
    timeouts.py    deadlines, interrupting a job, the stuck-thread restart
    outage.py      the database away or refusing: waiting it out, holding outcomes
    signals.py     SIGTERM/SIGINT: stop after the running jobs, or give everything back now
    heartbeat.py   the heartbeat thread (and the rescue of dead workers' jobs)
    cancellation.py  stopping a job cancelled while it runs
    hooks.py       failed() hooks, each on a thread of its own with its own deadline
    process.py     guards against a job's fork, exit or damage to stdout; the process's memory
    interrupt.py, vacuum.py   raising in another thread; the bloat guard

The worker is handed a queue store (app.queue.connections.base.QueueStore) and sees nothing of
the database behind it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.queue.worker.loop import Worker
    from app.queue.worker.options import MAX_CONCURRENCY, JobEvent, StopReason, WorkerOptions
    from app.queue.worker.process import rss_megabytes

__all__ = ["MAX_CONCURRENCY", "JobEvent", "StopReason", "Worker", "WorkerOptions",
           "rss_megabytes"]

_HOMES = {"Worker": "loop", "MAX_CONCURRENCY": "options", "JobEvent": "options",
          "StopReason": "options", "WorkerOptions": "options", "rss_megabytes": "process"}


def __getattr__(name: str) -> object:
    # Each loaded when first asked for: a process importing one module of the worker
    # (the console's process guards, JobEvent) does not load the loop, SQLAlchemy and psycopg.
    if name in _HOMES:
        value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
