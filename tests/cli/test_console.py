"""The console itself: `--help` grouped by namespace, what it imports, and the one way every
command reports an error (one line on stderr, exit 2 for a bad option, 1 for an error)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.queue import dispatch
from tests.jobs.basic import RecordsModules
from tests.support import ROOT, artisan, ledger, work

UNREACHABLE = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.mark.parametrize("args, fragment", [
    (["queue:failed", "--limit", "abc"], "--limit"),        # click's own type check
    (["queue:nope"], "No such command 'queue:nope'"),        # click's unknown command
    (["queue:job"], "Missing argument 'ID'"),                 # click's missing argument
    (["queue:status", "--bogus"], "--bogus"),                # click's unknown option
    (["queue:work", "--concurrency", "0"], "--concurrency"),  # a command's own check
    (["queue:bench", "--jobs", "0"], "--jobs"),
    (["queue:failed", "--limit", "0"], "--limit"),
])
def test_a_bad_option_is_one_error_line_and_exit_2(args, fragment):
    result = artisan(*args, env=UNREACHABLE)  # refused before any connection is tried
    assert result.returncode == 2
    assert fragment in one_error_line(result)


def test_a_failure_is_one_error_line_and_exit_1():
    result = artisan("queue:status", env=UNREACHABLE)
    assert result.returncode == 1
    assert "cannot connect to database at 127.0.0.1:1" in one_error_line(result)


def test_artisan_alone_lists_the_commands():
    result = artisan()
    assert result.returncode == 0, result.stderr
    assert "queue:work" in result.stdout and result.stderr == ""


def test_help_lists_commands_under_their_namespace_alphabetically():
    result = artisan("--help")
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("Commands:\n", 1)[1].splitlines()
    headings = [line.strip() for line in listed if not line.startswith("  ")]
    assert headings == sorted(headings)
    assert {"db", "make", "migrate", "queue"} <= set(headings)
    groups: dict[str, list[str]] = {}
    names: list[str] = []
    for line in listed:
        if line.startswith("  "):
            names.append(line.split()[0])
        else:
            names = groups[line.strip()] = []
    assert groups["migrate"] == ["migrate", "migrate:rollback", "migrate:status"]
    assert groups["queue"] == sorted(groups["queue"]) and "queue:work" in groups["queue"]
    assert all(name.partition(":")[0] == group for group, names in groups.items()
               for name in names)
    # Descriptions start in one column across the groups.
    starts = {line.index(line.split()[1]) for line in listed if line.startswith("  ")}
    assert len(starts) == 1


HEAVY = ("alembic", "sqlalchemy", "psycopg")


def loaded_after(*args: str) -> list[str]:
    """Which of HEAVY a console run of `args` imported (the kernel's main, in a fresh process)."""
    script = ("import json, sys\nfrom app.console.kernel import main\ntry:\n"
              f"    main({list(args)!r})\nexcept SystemExit:\n    pass\n"
              f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), "
              "file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    return json.loads(result.stderr.strip().splitlines()[-1])  # the list printed last


def test_help_imports_no_database_library():
    assert loaded_after("--help") == []
    assert loaded_after("queue:work", "--help") == []
    assert loaded_after() == []


def test_a_command_loads_only_what_it_needs(database_url):
    assert loaded_after("queue:status", "--json") == ["psycopg", "sqlalchemy"]


WORKER_NEVER_NEEDS = (
    "alembic", "mako", "pygments",  # migrations: the start-up check reads one row
    "pydantic",                     # typer's conversion of options (app/console/scalars.py)
    "rich",                         # styled lines: none with --quiet or --json
    "sqlalchemy.orm",               # a dispatch(connection=Session) needs it, not a worker
    "cryptography",                 # an encrypted job, when one is met
    "cronsim", "starlette", "jinja2", "prometheus_client", "app.dashboard", "app.bench",
    "app.queue.observe", "smtplib", "urllib.request",  # long-wait notifications
)
"""What other commands import and a worker must not hold for its whole life: 23 MB of an
idle `queue:work --concurrency 10 --quiet` (VmRSS 78.1 MB with them, 55.3 MB without)."""


@pytest.mark.parametrize("flag", ["--quiet", "--json"])
def test_a_worker_running_a_job_holds_nothing_only_other_commands_need(queue, engine, flag):
    dispatch(RecordsModules(list(WORKER_NEVER_NEEDS)))
    result = work("--concurrency", "10", flag)
    assert result.returncode == 0, result.stderr
    assert ledger(engine) == [("[]", "modules")]
