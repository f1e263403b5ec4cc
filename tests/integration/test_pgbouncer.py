"""Through a real PgBouncer in transaction pooling mode (SPEC §13). With QUEUE_LISTEN=false
nothing prepares a statement or keeps session state, so dispatch, dispatch_many, a worker,
its retries and failures, and the operating commands all work through it.

PgBouncer 1.18 (Debian's) passes prepared statements through blindly: one prepared on a
server connection is missing on the next, which is another client's a transaction later. The
tests make that happen on purpose: between calls, another client holds the server connection
just used, so the next transaction gets a different one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from app.bootstrap import queue_settings
from app.database import make_engine
from app.queue import context, dispatch, dispatch_many
from app.queue.context import QueueContext
from tests.jobs.basic import AlwaysFails, FailTimes, Record
from tests.support import artisan, count, ledger

STARTUP_S = 10.0


def pgbouncer_binary() -> str | None:
    found = shutil.which("pgbouncer")
    if found is None and os.access("/usr/sbin/pgbouncer", os.X_OK):
        found = "/usr/sbin/pgbouncer"
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_host(url: sa.URL) -> str:
    """Host name, address or (the embedded server's) Unix socket directory."""
    host = url.query.get("host") or url.host or "localhost"
    return host[0] if isinstance(host, tuple) else host


def run_as(host: str) -> str:
    """PgBouncer refuses to run as root: as whom, then. A Unix socket directory is often
    its server's alone (the embedded server's data directory): as its owner."""
    if host.startswith("/"):
        owner = pwd.getpwuid(os.stat(host).st_uid).pw_name
        if owner != "root":
            return owner
    return "nobody"


def pgbouncer_ini(url: sa.URL, port: int, directory: Path) -> str:
    host = server_host(url)
    return (f"[databases]\n"
            f"{url.database} = host={host} port={url.port or 5432} dbname={url.database}\n"
            f"[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {directory / 'users.txt'}\n"
            f"pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 20\n"
            f"ignore_startup_parameters = extra_float_digits\n")


@pytest.fixture(scope="session")
def pgbouncer_url(database_url: str) -> Iterator[str]:
    """A PgBouncer in transaction mode in front of the test database, on a free port."""
    binary = pgbouncer_binary()
    if binary is None:
        pytest.skip("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    url = sa.make_url(database_url)
    user = url.username or os.environ.get("USER", "postgres")
    # Readable by the user PgBouncer runs as: it refuses to run as root.
    directory = Path(tempfile.mkdtemp(prefix="skl-pgbouncer-"))
    directory.chmod(0o755)
    (directory / "users.txt").write_text(f'"{user}" "{url.password or ""}"\n')
    port = free_port()
    (directory / "pgbouncer.ini").write_text(pgbouncer_ini(url, port, directory))
    command = [binary, str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", run_as(server_host(url))]
    for path in directory.iterdir():
        path.chmod(0o644)
    log = directory / "pgbouncer.log"
    # Its log goes to a file: a pipe nobody reads would fill, and PgBouncer stop with it.
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    bounced = sa.URL.create("postgresql+psycopg", username=user, password=url.password,
                            host="127.0.0.1", port=port, database=url.database)
    try:
        wait_until_it_answers(bounced, process, log)
        yield bounced.render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def wait_until_it_answers(url: sa.URL, process: subprocess.Popen[bytes], log: Path) -> None:
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    deadline = time.monotonic() + STARTUP_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"pgbouncer exited at start: {log.read_text()}")
        try:
            psycopg.connect(conninfo, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def bounced(queue, pgbouncer_url: str) -> Iterator[QueueContext]:
    """This process's queue through PgBouncer, with QUEUE_LISTEN=false."""
    engine = make_engine(pgbouncer_url, prepare=False)
    ctx = QueueContext(settings=dataclasses.replace(queue_settings(), listen=False),
                       engine_factory=lambda: engine)
    context.use(ctx)
    yield ctx
    context.use(None)
    engine.dispose()


@pytest.fixture
def other_client(pgbouncer_url: str) -> Iterator[Callable[[], contextlib.AbstractContextManager]]:
    """`with other_client():` another client holds, in an open transaction, the server
    connection PgBouncer hands out first (the one used last): what runs meanwhile gets
    another, where nothing prepared before exists."""
    conninfo = sa.make_url(pgbouncer_url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    holder = psycopg.connect(conninfo)

    @contextlib.contextmanager
    def holding() -> Iterator[None]:
        holder.execute("SELECT 1")
        try:
            yield
        finally:
            holder.rollback()

    yield holding
    holder.close()


def bouncer_env(pgbouncer_url: str) -> dict[str, str]:
    return {"DATABASE_URL": pgbouncer_url, "QUEUE_LISTEN": "false"}


def test_dispatch_and_dispatch_many_through_pgbouncer(bounced, engine, other_client):
    for round_ in range(8):  # psycopg would prepare a statement run five times
        dispatch(Record(f"one {round_}"))
        with other_client():
            dispatch(Record(f"while held {round_}"), delay=60)
            dispatch_many([Record(f"many {round_}.{n}") for n in range(3)])
            bounced.store.paused_queues()  # a pooled statement of the store
    assert count(engine, "SELECT count(*) FROM jobs") == 8 * 5


def test_the_pool_never_prepares_behind_pgbouncer(bounced, other_client):
    # The pool's connections run the same statements again and again (the worker's outcome
    # writes, the admin queries): psycopg prepares one after its fifth run unless told not to.
    for _ in range(12):
        bounced.store.now()
        with other_client():
            bounced.store.now()


def test_a_worker_drains_1000_jobs_through_pgbouncer(bounced, engine, pgbouncer_url):
    dispatch_many(Record(f"r{n}") for n in range(1000))
    result = artisan("queue:work", "--stop-when-empty", "--sleep", "0.2", "--concurrency", "10",
                     "--max-time", "120", env=bouncer_env(pgbouncer_url), timeout=150)
    assert result.returncode == 0, result.stderr
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert count(engine, "SELECT count(DISTINCT job_id) FROM ledger WHERE event = 'end'") == 1000
    assert count(engine, "SELECT count(*) FROM ledger WHERE event = 'start'") == 1000


def test_retries_failures_and_the_commands_through_pgbouncer(bounced, engine, pgbouncer_url):
    env = bouncer_env(pgbouncer_url)
    flaky = dispatch(FailTimes("flaky", 1))
    failing = dispatch(AlwaysFails("doomed"))
    result = artisan("queue:work", "--stop-when-empty", "--sleep", "0.2", "--max-time", "60",
                     env=env, timeout=90)
    assert result.returncode == 0, result.stderr
    assert [event for _, event in ledger(engine, "flaky")] == ["attempt 1", "attempt 2"]
    assert [event for _, event in ledger(engine, "doomed")] == [
        "attempt 1", "attempt 2", "failed: RuntimeError"]
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id", id=flaky) == 0
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id = :id", id=failing) == 1

    status = artisan("queue:status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert '"failed": 1' in status.stdout
    failed = artisan("queue:failed", env=env)
    assert failed.returncode == 0 and failing in failed.stdout, failed.stderr
    retried = artisan("queue:retry", "all", env=env)
    assert retried.returncode == 0, retried.stderr
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id", id=failing) == 1
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0
