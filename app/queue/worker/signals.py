"""SIGTERM and Ctrl-C. The first stops claiming and lets running jobs finish (the worker says
at once what it waits for); a second Ctrl-C quits now, giving the worker's jobs back on its
way out rather than leaving them reserved until QUEUE_RETRY_AFTER."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from app.queue.worker import process
from app.queue.worker.slot import Slot

QUIT_GIVE_BACK_S = 2.0
"""Seconds a worker quitting on a second Ctrl-C gives the database to take its jobs back."""
QUIT_EXIT_CODE = 130
"""128 + SIGINT, as a shell reports a process that Ctrl-C ended."""


class StopSignals:
    """Installed by the worker's main thread; `on_stop` asks the worker to stop gracefully,
    `give_back` returns its jobs to the queue (one statement, run on a thread of its own)."""

    def __init__(self, on_stop: Callable[[], None], give_back: Callable[[], None],
                 log: Callable[[str], None]) -> None:
        self.on_stop = on_stop
        self.give_back = give_back
        self.log = log
        self.received: list[int] = []

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    @property
    def by_ctrl_c(self) -> bool:
        return bool(self.received) and self.received[-1] == signal.SIGINT

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.received.append(signum)
        if signum == signal.SIGINT and len(self.received) > 1:
            self._quit_now()
        self.on_stop()

    def _quit_now(self) -> NoReturn:
        # On a thread, so that a database that does not answer delays the exit
        # QUIT_GIVE_BACK_S at most.
        giver = threading.Thread(target=self.give_back, name="skiplock-give-back", daemon=True)
        giver.start()
        giver.join(QUIT_GIVE_BACK_S)
        if giver.is_alive():
            self.log(f"quit: the database did not answer within {QUIT_GIVE_BACK_S:g}s; "
                     "QUEUE_RETRY_AFTER gives the jobs back")
        process.exit_now(QUIT_EXIT_CODE, run_atexit=False)  # quit now means now

    def waiting_line(self, reason: str, running: Iterable[Slot]) -> str | None:
        """What a stopping worker waits for, in one line (None: nothing)."""
        names = Counter(slot.class_name + (".failed()" if slot.hook else "") for slot in running)
        total = sum(names.values())
        if not total:
            return None
        listed = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in names.items())
        line = (f"stopping ({reason}): waiting for {total} running "
                f"{'job' if total == 1 else 'jobs'} to finish ({listed})")
        if self.by_ctrl_c:
            line += "; press Ctrl-C again to quit now and give them back"
        return line
