"""`queue:work --watch`: the worker runs as a child process, restarted when the code changes.

A worker imports a job's module once and keeps it: an edited job runs its old code until the
worker restarts. For development, as Laravel's `queue:listen`, this parent process polls the
modification times of the `.py` files under `app/` each second; on a change it stops the worker
gracefully (SIGTERM: running jobs finish) and starts a fresh one. SIGTERM or SIGINT to the parent
is passed to the worker, and the parent exits with the worker's exit code once it has stopped;
so does the parent when the worker exits by itself (`--stop-when-empty`, an error). No new
dependency: a poll of a few hundred files a second costs next to nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from app.console.output import printable

POLL_SECONDS = 1.0
WATCH_FLAG = "--watch"


def log(text: str) -> None:
    """A line in the worker's format, on stderr: `  2026-11-28 07:13:06 WATCH …`."""
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    print(f"  {now} WATCH {printable(text)}", file=sys.stderr, flush=True)


def snapshot(root: Path) -> dict[Path, int]:
    """Modification time of every .py file under `root` (a file removed meanwhile is skipped)."""
    times = {}
    for path in root.rglob("*.py"):
        try:
            times[path] = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
    return times


def changed(before: dict[Path, int], after: dict[Path, int]) -> list[Path]:
    """Files added, removed or modified between two snapshots."""
    return sorted(path for path in before.keys() | after.keys()
                  if before.get(path) != after.get(path))


def worker_command() -> list[str]:
    """This process's own command line (`python artisan.py queue:work …` or the `artisan`
    script) without --watch: the child is the same worker, unwatched."""
    return [arg for arg in sys.orig_argv if arg != WATCH_FLAG]


def end_with_parent() -> None:
    """In the child before it runs: Linux sends it SIGTERM if the watching parent dies, even by
    SIGKILL, so no worker is left running that nothing watches."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Reloader:
    def __init__(self, command: list[str], root: Path) -> None:
        self.command = command
        self.root = root
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.pass_on)
        log(f"watching {self.root} for changes (.py files, every {POLL_SECONDS:g}s)")
        self.child = self.start()
        times = snapshot(self.root)
        while True:
            code = self.wait_for_child(POLL_SECONDS)
            if code is not None:
                return code
            if self.stopping:
                continue  # the worker has the signal and finishes its jobs; wait for it
            now = snapshot(self.root)
            edited = changed(times, now)
            if edited:
                self.restart(edited)
                times = snapshot(self.root)  # files saved while the worker stopped count

    def start(self) -> subprocess.Popen[bytes]:
        # Its own process group: a Ctrl-C in the terminal reaches only this parent, which
        # passes it on once (two would make the worker quit without finishing its jobs).
        return subprocess.Popen(self.command, process_group=0, preexec_fn=end_with_parent)

    def restart(self, edited: list[Path]) -> None:
        names = ", ".join(str(path.relative_to(self.root.parent)) for path in edited[:3])
        more = f" and {len(edited) - 3} more" if len(edited) > 3 else ""
        log(f"{names}{more} changed: restarting the worker after its running jobs")
        assert self.child is not None
        self.child.send_signal(signal.SIGTERM)
        code = self.child.wait()
        if self.stopping:
            return  # stopped meanwhile: run() returns the code the next time round
        log(f"worker stopped ({exit_code(code)}); starting a new one")
        self.child = self.start()

    def wait_for_child(self, timeout: float) -> int | None:
        assert self.child is not None
        try:
            return exit_code(self.child.wait(timeout))
        except subprocess.TimeoutExpired:
            return None

    def pass_on(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            os.kill(self.child.pid, signum)


def exit_code(returncode: int) -> int:
    """A child killed by signal N is reported as the shell does: 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def watch_and_work(root: Path) -> int:
    return Reloader(worker_command(), root).run()
