"""The worker's own process, whatever its jobs do to it: its output streams, forks made by
jobs, and an exit that happens when decided.

A job runs in the worker's process and can damage it: close stdout, leave a non-daemon thread
(Python then waits for it at exit, for good), or fork, so that a child returns from the job
into the worker's machinery and runs it as a second, headless worker. These are the defences.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
from typing import NoReturn, TextIO

in_forked_child = False
"""True in a child forked by a job: it must leave (see leave_forked_child), never run on."""
_guarded = False
_own_fds: dict[int, int] = {}
"""Standard fd -> this process's private duplicate of it, taken before any job ran."""


def own_stream(fd: int) -> TextIO:
    """A private, line-buffered duplicate of standard fd 1 or 2 (taken once), for the worker's
    own lines: a job that closes `sys.stdout` or fd 1 closes its copy, not this one. Each line
    is one write(), so it stays whole beside whatever a job prints."""
    if fd not in _own_fds:
        _own_fds[fd] = os.dup(fd)  # not inheritable: a job's subprocesses do not get it
    return open(_own_fds[fd], "w", buffering=1, encoding="utf-8", errors="replace",
                closefd=False)


def restore_std_fds() -> None:
    """Put the original stdout and stderr back on fds 1 and 2 (before an exec: a job may
    have closed them, and the next process starts with whatever is there)."""
    for fd, own in _own_fds.items():
        with contextlib.suppress(OSError):
            os.dup2(own, fd)


def guard_forks() -> None:
    """From now on, a process forked by a job is marked as such, and dies of SIGTERM and
    SIGINT as a plain process does instead of running the worker's handlers (which only set
    a flag for a main loop the child does not have)."""
    global _guarded
    if not _guarded:
        _guarded = True
        os.register_at_fork(before=_flush_std_streams, after_in_child=_mark_forked_child)


def _flush_std_streams() -> None:
    # Unflushed output would be written twice: by the parent, and by a child that flushes.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(ValueError, OSError, AttributeError):
            stream.flush()


def _mark_forked_child() -> None:
    global in_forked_child
    in_forked_child = True
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signum, signal.SIG_DFL)


def leave_forked_child(code: int) -> NoReturn:
    """End a child that a job forked, as it comes back into the worker's code: its output
    flushed, but none of the worker's cleanup or atexit (the connections it shares with its
    parent would be closed under the parent)."""
    _flush_std_streams()
    os._exit(code)


def exit_now(code: int, *streams: TextIO, run_atexit: bool = True) -> NoReturn:
    """Leave once the worker has decided to, and done its own cleanup: a thread a job left
    running (non-daemon, or blocked in C) must not keep the process alive. Python's own exit
    would first wait for every non-daemon thread, then run the atexit handlers; this runs the
    handlers (jobs' code may count on them: the bench's ledger is flushed by one) and skips
    the wait."""
    if run_atexit:
        atexit._run_exitfuncs()
    for stream in (*streams, sys.stdout, sys.stderr):
        with contextlib.suppress(ValueError, OSError):
            stream.flush()
    os._exit(code)


def rss_megabytes() -> float:
    """Resident memory of this process now (not the peak, which never comes down)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
