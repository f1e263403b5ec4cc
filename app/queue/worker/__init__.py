"""The worker: claim jobs, run them, record what happened.

    loop.py        Worker: the loop itself (claim, run, record) and its stop conditions
    ahead.py       claim-ahead: the jobs a one-slot worker holds beside the one it runs
    slot.py        one claimed job as the worker tracks it
    threads.py     the job threads; event_loop.py the one loop every async job shares
    timeouts.py    deadlines, interrupting a job, the stuck-thread restart
    outage.py      the database away or refusing: waiting it out, holding outcomes
    signals.py     SIGTERM/SIGINT: stop after the running jobs, or give everything back now
    heartbeat.py   the heartbeat thread (and the rescue of dead workers' jobs)
    cancellation.py  stopping a job cancelled while it runs
    hooks.py       failed() hooks, each on a thread of its own with its own deadline
    process.py     guards against a job's fork, exit or damage to stdout
    interrupt.py, vacuum.py   raising in another thread; the bloat guard

The worker is handed a queue store (app.queue.connections.base.QueueStore) and sees nothing of
the database behind it.
"""

from __future__ import annotations

from app.queue.worker.loop import (
    MAX_CONCURRENCY,
    JobEvent,
    StopReason,
    Worker,
    WorkerOptions,
    rss_megabytes,
)

__all__ = ["MAX_CONCURRENCY", "JobEvent", "StopReason", "Worker", "WorkerOptions",
           "rss_megabytes"]
