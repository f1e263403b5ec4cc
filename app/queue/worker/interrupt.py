"""Raising an exception inside another thread: how a sync job is stopped at its timeout.

CPython delivers it at the thread's next bytecode, so it interrupts Python code but not a
call blocked in C (time.sleep, a socket read without timeout). The worker handles that case
by replacing its process (see app/queue/timeouts.py, Timeouts.restart_process).
"""

from __future__ import annotations

import ctypes


def raise_in_thread(thread_id: int, exception: type[BaseException]) -> bool:
    """Schedule `exception` in the thread; False if no such thread is running."""
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception)
    )
    if done > 1:  # should never happen; undo rather than hit several threads
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
        return False
    return done == 1
