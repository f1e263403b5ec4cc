"""Real `queue:work` processes for the bench: started, held at the gate, released, stopped.

The peers' harness starts its workers, waits for each to say READY, then sends GO and starts
the clock. `queue:work` has no such protocol, so the bench builds one from the queue's own
features: the scratch queue is paused (`queue:pause`) while the workers start; a worker is
ready once it has registered in `workers` and its listener has issued LISTEN; GO is
`queue:resume` (resume plus NOTIFY), the same wake-up a dispatch sends. The paused check is
part of every claim statement, so the hot path is the same paused or not. Start-up up to the
first idle wait (imports, connecting, registering, LISTEN) is thus outside the window; in the
harness, registration and LISTEN are inside it — a few milliseconds, against a window of
seconds.

Workers run without --stop-when-empty (a paused queue looks empty) and with --max-time as a
backstop, so that a bench killed with SIGKILL cannot leave them running for ever.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from app.bench.bench_noop import LEDGER_ENV, clock
from app.bench.checks import BenchError
from app.bench.store import BenchStore

BENCH_JOB_MODULE = "app.bench.bench_noop"
POLL_MIN_S, POLL_MAX_S = 0.01, 0.25
"""Bounds on the drain poll's pace (see wait_drained)."""
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
LISTEN_SETTLE_S = 0.2
"""After LISTEN a worker claims once (nothing: the queue is paused) before it goes idle."""


class WorkerGroup:
    """`count` processes of `python artisan.py queue:work` on one scratch queue."""

    def __init__(self, store: BenchStore, queue: str, count: int, concurrency: int | None,
                 ledger_dir: Path, job_packages: tuple[str, ...], listen: bool,
                 max_time: float) -> None:
        self.store = store
        self.queue = queue
        self.count = count
        self.concurrency = concurrency
        self.ledger_dir = ledger_dir
        self.job_packages = job_packages
        self.listen = listen
        self.max_time = max_time
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started_at: dt.datetime | None = None

    def command(self) -> list[str]:
        from config import BASE_PATH

        cmd = [sys.executable, str(BASE_PATH / "artisan.py"), "queue:work", "--queue", self.queue,
               "--name", self.queue, "--quiet", "--max-time", f"{self.max_time:g}"]
        if self.concurrency is not None:  # None: the worker's own default, as a user gets it
            cmd += ["--concurrency", str(self.concurrency)]
        if not self.listen:
            # Poll-only workers (QUEUE_LISTEN=false) would see GO only at their next poll.
            cmd += ["--sleep", "0.1"]
        return cmd

    def settings(self) -> dict[str, object]:
        return {"processes": self.count, "concurrency": self.concurrency,
                "listen_notify": self.listen, "sleep_s": 3.0 if self.listen else 0.1}

    def start(self) -> None:
        env = {**os.environ, LEDGER_ENV: str(self.ledger_dir),
               "QUEUE_JOB_PACKAGES": ",".join(self.job_packages)}
        self.started_at = self.store.now()
        for n in range(self.count):
            log = open(self.ledger_dir / f"worker-{n}.log", "wb")  # noqa: SIM115 - child owns it
            try:
                self.procs.append(subprocess.Popen(self.command(), stdout=log,
                                                   stderr=subprocess.STDOUT, env=env))
            finally:
                log.close()

    def wait_ready(self) -> None:
        """Until every worker has registered and (with LISTEN) is listening."""
        assert self.started_at is not None, "start() first"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while self.store.worker_totals(self.queue).registered < self.count:
            self.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"workers did not start within {READY_TIMEOUT_S:g}s")
            time.sleep(0.05)
        while self.listen and self.store.listening(self.started_at) < self.count:
            self.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"workers did not LISTEN within {READY_TIMEOUT_S:g}s")
            time.sleep(0.02)
        time.sleep(LISTEN_SETTLE_S)

    def stop(self) -> None:
        """SIGTERM: each worker finishes its running jobs, acknowledges them and exits."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for n, proc in enumerate(self.procs):
            try:
                code = proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
                raise BenchError(f"worker {n} did not stop within {STOP_TIMEOUT_S:g}s "
                                 "of SIGTERM") from None
            if code != 0:
                raise BenchError(f"worker {n} exited with status {code}: {self._tail(n)}")

    def kill(self) -> None:
        """Clean-up after an error: ask, then insist; never leave a process behind."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def cpu_seconds(self) -> float | None:
        """User + system CPU the workers have used so far (Linux /proc), or None."""
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        total = 0
        for proc in self.procs:
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                return None
            total += int(fields[11]) + int(fields[12])
        return total / ticks

    def rss_mb(self) -> list[float]:
        """Each worker's resident memory now (VmRSS), in MB."""
        sizes = []
        for proc in self.procs:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            kb = next(line.split()[1] for line in status.splitlines()
                      if line.startswith("VmRSS:"))
            sizes.append(round(int(kb) / 1024, 1))
        return sizes

    def check_alive(self) -> None:
        for n, proc in enumerate(self.procs):
            if proc.poll() is not None:
                raise BenchError(f"worker {n} exited early (status {proc.returncode}): "
                                 f"{self._tail(n)}")

    def _tail(self, n: int) -> str:
        try:
            lines = (self.ledger_dir / f"worker-{n}.log").read_text().strip().splitlines()
        except OSError:
            lines = []
        return lines[-1].strip() if lines else "no output"


def wait_drained(pending: Callable[[], int], timeout: float,
                 group: WorkerGroup | None = None) -> float:
    """Poll until `pending()` is 0; return the clock() at which it was.

    As in the peers' harness, the poll sleeps half the estimated time left (from the rate
    seen so far), between POLL_MIN_S and POLL_MAX_S: few polls while the queue is long, so
    they cost the measured server little, and the end is still seen within ~10 ms.
    """
    deadline = clock() + timeout
    first: tuple[float, int] | None = None
    while True:
        left = pending()
        now = clock()
        if left == 0:
            return now
        if now > deadline:
            raise BenchError(f"{left} jobs still pending after {timeout:g}s")
        if group is not None:
            group.check_alive()
        if first is None:
            first = (now, left)
        drained, elapsed = first[1] - left, now - first[0]
        sleep = 0.5 * left / (drained / elapsed) if drained > 0 and elapsed > 0 else 0.05
        time.sleep(min(POLL_MAX_S, max(POLL_MIN_S, sleep)))


def steal_ticks() -> list[int] | None:
    """/proc/stat's aggregate CPU ticks (user … steal), or None off Linux."""
    try:
        with open("/proc/stat") as stat:
            return [int(x) for x in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None


def steal_pct_since(before: list[int] | None) -> float | None:
    """Share of CPU time the hypervisor gave other guests: a slow run with high steal was
    slowed by something outside this machine."""
    after = steal_ticks()
    if before is None or after is None:
        return None
    delta = [a - b for a, b in zip(after, before, strict=True)]
    return round(100.0 * delta[7] / max(1, sum(delta)), 1)
