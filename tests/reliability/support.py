"""What the reliability tests share: a fleet of real workers, the runs the ledger shows, a
private PostgreSQL the test may stop, and what /proc says about a process."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tests.support import ROOT, start_worker, wait_for

BACKSTOP = "240"
"""--max-time for every worker: a test killed half-way (pytest-timeout) leaves none running."""
FOREVER = dt.datetime.max.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------------- worker fleet


def registered_pids(engine: sa.Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(sa.text(
            "SELECT pid FROM workers WHERE stopped_at IS NULL")).scalars())


@dataclass
class Fleet:
    """`python artisan.py queue:work ARGS` processes, each with its own ledger label
    (LEDGER_WORKER), so a run is pinned to one process even if the OS reuses a pid."""

    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    killed: dict[str, dt.datetime] = field(default_factory=dict)
    """label -> when it was dead for sure (after wait())."""
    output: dict[str, tuple[int, str]] = field(default_factory=dict)
    """label -> (exit code, stderr) of every process that has ended."""
    _labels: itertools.count = field(default_factory=itertools.count)

    def start(self) -> str:
        label = f"w{next(self._labels)}"
        self.procs[label] = start_worker(*self.args, "--max-time", BACKSTOP,
                                         env={**self.env, "LEDGER_WORKER": label})
        return label

    def alive(self) -> list[str]:
        return [label for label, proc in self.procs.items() if proc.poll() is None]

    def pids(self) -> list[int]:
        return [self.procs[label].pid for label in self.alive()]

    def kill(self, label: str) -> None:
        """SIGKILL: no cleanup, no last words, like a power cut."""
        proc = self.procs[label]
        proc.kill()
        proc.wait()
        # The test's clock; the ledger's is the database's, on the same host here. A re-run
        # starts QUEUE_RETRY_AFTER later, so a small skew could not hide an overlap anyway.
        self.killed[label] = dt.datetime.now(dt.UTC)
        self._collect(label)

    def stop(self, timeout: float = 60, engine: sa.Engine | None = None
             ) -> dict[str, tuple[int, str]]:
        """SIGTERM every live worker; wait for all; (exit code, stderr) by label. With
        `engine`, first wait until each live worker has registered: one still starting up
        has no SIGTERM handler yet, and would die of the signal instead of stopping."""
        if engine is not None:
            wait_for(lambda: set(self.pids()) <= registered_pids(engine), 30)
        for label in self.alive():
            self.procs[label].send_signal(signal.SIGTERM)
        for label in self.procs:
            self._collect(label, timeout)
        return self.output

    def close(self) -> None:
        """Whatever happened, leave no process behind."""
        for label, proc in self.procs.items():
            if proc.poll() is None:
                proc.kill()
            self._collect(label, 10)

    def _collect(self, label: str, timeout: float = 10) -> None:
        if label in self.output:
            return
        proc = self.procs[label]
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            err += "\n[the test had to SIGKILL this worker: it did not stop in time]"
        self.output[label] = (proc.returncode, err)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------- ledger


@dataclass(frozen=True)
class Run:
    """One execution of one job in one worker process, as the job recorded it."""

    tag: str
    worker: str
    start: dt.datetime
    end: dt.datetime | None

    def until(self, killed: dict[str, dt.datetime]) -> dt.datetime:
        """When this run stopped at the latest: its end, its worker's death, or never."""
        return self.end or killed.get(self.worker, FOREVER)


Event = tuple[str, str, str, dt.datetime]
"""(tag, worker, 'start' or 'end', when), in the order each worker wrote them."""


def ledger_runs(engine: sa.Engine) -> dict[str, list[Run]]:
    """The runs the `ledger` table shows, by job tag."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT tag, worker, event, at FROM ledger "
                                    "WHERE event IN ('start', 'end') ORDER BY id"))
        return runs_of((tag, worker, event, at) for tag, worker, event, at in rows)


def file_ledger_runs(directory: Path) -> dict[str, list[Run]]:
    """The runs the file ledger shows (tests.jobs.reliability.record_to_file), by job tag."""
    events: list[Event] = []
    for path in sorted(directory.glob("*.log")):
        for line in path.read_text().splitlines():
            tag, event, at = line.split("\t")
            events.append((tag, path.stem, event,
                           dt.datetime.fromtimestamp(float(at), dt.UTC)))
    return runs_of(events)


def runs_of(events: Iterable[Event]) -> dict[str, list[Run]]:
    """tag -> runs, by start time. A 'start' opens a run of (tag, worker); 'end' closes it."""
    open_runs: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    runs: dict[str, list[Run]] = defaultdict(list)
    for tag, worker, event, at in events:
        if event == "start":
            open_runs[tag, worker].append(at)
        elif event == "end" and open_runs[tag, worker]:
            runs[tag].append(Run(tag, worker, open_runs[tag, worker].pop(0), at))
    for (tag, worker), starts in open_runs.items():
        runs[tag].extend(Run(tag, worker, start, None) for start in starts)
    for job_runs in runs.values():
        job_runs.sort(key=lambda run: run.start)
    return dict(runs)


def overlaps(runs: Iterable[Run], killed: dict[str, dt.datetime]) -> list[tuple[Run, Run]]:
    """Pairs of runs of one job, in two processes, that were under way at the same time."""
    found = []
    for a, b in itertools.combinations(list(runs), 2):
        if a.worker != b.worker and a.start < b.until(killed) and b.start < a.until(killed):
            found.append((a, b))
    return found


# -------------------------------------------------------------------------------- /proc


def rss_mb(pid: int) -> float:
    """Resident memory of a process now, from /proc/<pid>/status (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def tcp_ports_of(pids: Iterable[int]) -> list[int]:
    """Local TCP ports of these processes' sockets: pg_stat_activity.client_port of their
    connections, so a test can cut its own workers' connections and nobody else's."""
    inodes: set[int] = set()
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:  # closed meanwhile
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[len("socket:["):-1]))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if int(fields[9]) in inodes:
                    ports.add(int(fields[1].rpartition(":")[2], 16))
    return sorted(ports)


def cut_connections(killer: sa.Engine, pids: Iterable[int]) -> int:
    """pg_terminate_backend on every queue connection of these worker processes (the pool's
    and the listener's); over a Unix socket, on every queue connection to this database."""
    with killer.connect() as conn:
        return int(conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name IN ('skiplock', 'skiplock-listener') "
            "AND (client_port = -1 OR client_port = ANY(:ports))"),
            {"ports": tcp_ports_of(pids)}).scalar_one())


# ---------------------------------------------------------------------- private server


class PrivateServer:
    """An embedded PostgreSQL of the test's own (app.database.start_embedded), in a short
    directory under /tmp (its Unix socket lives there), that the test may stop and start."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="skl-", dir="/tmp"))
        self.data = self.root / "db"
        self.url = ""

    def start(self) -> str:
        # In a child process: pgserver keeps one handle per directory per process, and a
        # handle whose server was stopped does not start it again.
        code = ("import sys; from pathlib import Path; from app.database import "
                "start_embedded; print(start_embedded(Path(sys.argv[1])))")
        done = subprocess.run([sys.executable, "-c", code, str(self.data)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=True)
        self.url = done.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self) -> None:
        from app.database import stop_embedded

        stop_embedded(self.data)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


__all__ = ["Fleet", "PrivateServer", "Run", "cut_connections", "file_ledger_runs", "ledger_runs",
           "overlaps", "rss_mb", "wait_for"]
