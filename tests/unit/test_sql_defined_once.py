"""Each SQL statement is written once: no name in both .sql files, and failed jobs are moved
back to `jobs` by one statement."""

from __future__ import annotations

import re
from pathlib import Path

import app.queue.admin as admin
from app.queue.db import sql

SQL_FILES = sorted(sql.HERE.glob("*.sql"))


def block_names(path: Path) -> list[str]:
    return re.findall(r"^-- name: (\S+)", path.read_text(), flags=re.MULTILINE)


def test_no_statement_is_defined_in_two_sql_files():
    names = [name for path in SQL_FILES for name in block_names(path)]
    assert len(SQL_FILES) >= 2
    assert sorted({name for name in names if names.count(name) > 1}) == []


def test_failed_jobs_are_moved_back_by_one_statement():
    text = (sql.HERE / "admin.sql").read_text()
    assert text.count("INSERT INTO jobs") == 1


def test_the_admin_runs_the_store_statements_it_shares():
    assert {"notify_queues", "now"} <= set(admin.QUERIES)
