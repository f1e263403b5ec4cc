"""Migrations through the real CLI, the unreachable-database error, and the embedded server.

The migrate tests run `python artisan.py …` against the test database (the `database_url`
fixture puts it in DATABASE_URL for subprocesses). The embedded-server test starts its own
server on a fresh data directory, so it never touches the one other processes share.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app import schema
from tests.support import ROOT, artisan

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/x"
QUEUE_TABLES = {"jobs", "failed_jobs", "workers"}


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def indexes(engine: sa.Engine, table: str) -> dict[str, str]:
    """Index name -> definition, read from pg_indexes."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"), {"t": table})
        return {name: definition for name, definition in rows}


@pytest.fixture
def migrated(engine: sa.Engine) -> Iterator[sa.Engine]:
    """The test database at head before and after the test (later tests need the tables)."""
    schema.upgrade(engine)
    try:
        yield engine
    finally:
        schema.upgrade(engine)


def test_the_start_up_check_reads_the_revision_alembic_reads(migrated: sa.Engine) -> None:
    """schema.current_revision reads alembic_version itself (a worker imports no Alembic): at
    head, one below, and with every migration rolled back."""
    from alembic.runtime.migration import MigrationContext

    def alembics() -> str | None:
        with migrated.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    seen = []
    for target in ("-1", "base"):
        seen.append((schema.current_revision(migrated), alembics()))
        schema.downgrade(migrated, target)
    seen.append((schema.current_revision(migrated), alembics()))
    head = schema.head_revision()
    assert seen[0] == (head, head) and seen[-1] == (None, None)
    assert seen[1][0] == seen[1][1] not in (None, head)


def test_migrate_twice_changes_nothing(migrated: sa.Engine) -> None:
    head = schema.head_revision()
    first = artisan("migrate")
    second = artisan("migrate")
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert first.stdout.strip() == second.stdout.strip() == "Nothing to migrate."
    assert schema.current_revision(migrated) == head
    assert tables(migrated) >= QUEUE_TABLES


def test_migrate_status_reports_up_to_date(migrated: sa.Engine) -> None:
    head = schema.head_revision()
    result = artisan("migrate:status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Current revision: {head}", f"Latest revision:  {head}", "Status: up to date"]


def test_rollback_to_empty_then_migrate_up_again(migrated: sa.Engine) -> None:
    head = schema.head_revision()
    revisions = 0
    while True:
        result = artisan("migrate:rollback")
        assert result.returncode == 0, result.stderr
        if result.stdout.strip() == "Nothing to roll back.":
            break
        assert result.stdout.startswith("Rolled back: ")
        revisions += 1
        assert revisions < 50, "migrate:rollback never reached an empty schema"
    assert revisions >= 1
    assert schema.current_revision(migrated) is None
    assert not QUEUE_TABLES & tables(migrated)

    status = artisan("migrate:status")
    assert status.returncode == 0, status.stderr
    assert "Current revision: none" in status.stdout
    assert "Status: behind: run `python artisan.py migrate`" in status.stdout

    up = artisan("migrate")
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == f"Migrated: empty -> {head}."
    assert schema.current_revision(migrated) == head
    assert tables(migrated) >= QUEUE_TABLES


def test_rollback_one_step_names_both_revisions(migrated: sa.Engine) -> None:
    head = schema.head_revision()
    previous = ScriptDirectory.from_config(schema.alembic_config()).get_revision(head).down_revision
    result = artisan("migrate:rollback")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Rolled back: {head} -> {previous or 'empty'}."
    assert schema.current_revision(migrated) == previous


def test_first_revision_creates_the_partial_claim_index(migrated: sa.Engine) -> None:
    partial = [definition for definition in indexes(migrated, "jobs").values()
               if " WHERE " in definition and "reserved_at IS NULL" in definition]
    assert partial, indexes(migrated, "jobs")


@pytest.mark.parametrize("command", ["migrate", "migrate:status", "migrate:rollback"])
def test_unreachable_database_is_one_line_and_exit_1(command: str) -> None:
    result = artisan(command, env={"DATABASE_URL": UNREACHABLE})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: cannot connect to database at 127.0.0.1:1: connection refused"]
    assert result.stdout == ""


def test_verbose_shows_the_traceback_of_an_unreachable_database() -> None:
    result = artisan("migrate", "--verbose", env={"DATABASE_URL": UNREACHABLE})
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "error: cannot connect to database at 127.0.0.1:1: connection refused")


def test_db_stop_with_database_url_set_leaves_servers_alone() -> None:
    result = artisan("db:stop", env={"DATABASE_URL": UNREACHABLE})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "DATABASE_URL is set: there is no embedded server to stop."


# Each child waits on stdin after its imports, so both call start_embedded at the same moment.
START_AND_REPORT = """
import json, sys
from pathlib import Path
import psutil, sqlalchemy as sa
from app.database import start_embedded
sys.stdin.readline()
url = start_embedded(Path(sys.argv[1]))
engine = sa.create_engine(url)
with engine.connect() as conn:
    one = conn.execute(sa.text("SELECT 1")).scalar_one()
    backend = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
print(json.dumps({"one": one, "postmaster": psutil.Process(backend).ppid(), "url": url}))
"""


@pytest.fixture
def fresh_data_dir() -> Iterator[Path]:
    """A new, short path (Unix socket paths are limited to about 100 bytes)."""
    from app.database import stop_embedded

    parent = Path(tempfile.mkdtemp(dir="/tmp", prefix="skl-"))
    path = parent / "db"
    try:
        yield path
    finally:
        stop_embedded(path)
        shutil.rmtree(parent, ignore_errors=True)


def postmasters_of(path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(attrs=("name", "cmdline")):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and "-D" in cmdline and str(path.resolve()) in cmdline:
            found.append(proc)
    return found


def is_alive(pid: int) -> bool:
    # The postmaster is reparented to PID 1, which in a container may never reap it.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_two_processes_starting_at_once_share_one_embedded_server(fresh_data_dir: Path) -> None:
    from app.database import stop_embedded

    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    children = [
        subprocess.Popen([sys.executable, "-c", START_AND_REPORT, str(fresh_data_dir)], cwd=ROOT,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
        for _ in range(2)
    ]
    reports = []
    try:
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            reports.append(json.loads(out))
    finally:
        for child in children:
            child.kill()
            child.wait()

    assert [report["one"] for report in reports] == [1, 1]
    assert reports[0]["postmaster"] == reports[1]["postmaster"]
    assert reports[0]["url"] == reports[1]["url"]
    running = postmasters_of(fresh_data_dir)
    assert [proc.pid for proc in running] == [reports[0]["postmaster"]]

    assert stop_embedded(fresh_data_dir) is True
    assert not is_alive(reports[0]["postmaster"])
    assert postmasters_of(fresh_data_dir) == []
    assert stop_embedded(fresh_data_dir) is False


def test_stop_embedded_on_a_directory_without_a_server(tmp_path: Path) -> None:
    from app.database import stop_embedded

    assert stop_embedded(tmp_path / "never-started") is False


def test_worker_refuses_tables_behind_the_code(database_url):
    head = schema.head_revision()
    previous = ScriptDirectory.from_config(schema.alembic_config()).get_revision(head).down_revision
    try:
        assert artisan("migrate:rollback").returncode == 0
        result = artisan("queue:work", "--stop-when-empty")
        assert result.returncode == 1
        assert result.stderr.strip() == (f"error: the queue tables are at revision {previous}, "
                                         f"this code needs {head}: run `python artisan.py migrate`")
    finally:
        assert artisan("migrate").returncode == 0
