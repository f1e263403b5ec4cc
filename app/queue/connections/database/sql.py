"""The queue's SQL: named blocks of the .sql files beside this module, loaded once.

`queries.sql` holds what dispatch and the worker run (JobStore, the libpq fast path),
`admin.sql` what the operating commands run (QueueAdmin), `batches.sql` the statements on
job_batches (BatchStore), `limits.sql` what the limits of job middleware run (LimitStore).
Only the store classes execute them.
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

HERE = Path(__file__).parent


def load_queries(path: Path) -> dict[str, sa.TextClause]:
    """`-- name: x` blocks of a .sql file, as SQLAlchemy text clauses keyed by name."""
    queries: dict[str, sa.TextClause] = {}
    for block in re.split(r"^-- name: ", path.read_text(), flags=re.MULTILINE)[1:]:
        name, _, body = block.partition("\n")
        sql = "\n".join(line for line in body.splitlines() if not line.startswith("--"))
        queries[name.strip()] = sa.text(sql.strip().rstrip(";"))
    return queries


def as_psycopg(query: sa.TextClause) -> str:
    """A named statement with psycopg's `%(name)s` placeholders, for the driver's own calls."""
    return str(query.compile(dialect=postgresql.dialect()))


QUERIES = load_queries(HERE / "queries.sql")
ADMIN_QUERIES = load_queries(HERE / "admin.sql")
BATCH_QUERIES = load_queries(HERE / "batches.sql")
INSERT_JOB_SQL = as_psycopg(QUERIES["insert_job"])
INSERT_UNIQUE_JOB_SQL = as_psycopg(QUERIES["insert_unique_job"])
INSERT_JOBS_UNIQUE_SQL = as_psycopg(QUERIES["insert_jobs_unique"])
SET_LOCK_TIMEOUT_SQL = as_psycopg(QUERIES["set_lock_timeout"])
NOTIFY_QUEUES_SQL = as_psycopg(QUERIES["notify_queues"])
CLAIM_JOBS_SQL = as_psycopg(QUERIES["claim_jobs"])
LIMIT_QUERIES = load_queries(HERE / "limits.sql")


def carrying_members(claim: str, steps: str, finished: str) -> str:
    """claim_jobs with the steps for members of chains and batches spliced in after its
    `acked` step, and their finished batches after its rows (see queries.sql)."""
    marker = "picked AS MATERIALIZED"
    assert claim.count(marker) == 1, "claim_jobs no longer has the step the splice goes before"
    return claim.replace(marker, f"{steps}\n{marker}") + f"\n{finished}"


def failing_a_waiting_job(fail: sa.TextClause) -> sa.TextClause:
    """fail_job for a job no worker holds (cancelling a pending or delayed one): the same move
    to failed_jobs, with the same effects on its chain and batch, written once."""
    held = "WHERE id = :id AND reserved_by = :worker"
    assert fail.text.count(held) == 1, "fail_job no longer picks its row as this expects"
    return sa.text(fail.text.replace(held, "WHERE id = :id AND reserved_at IS NULL"))


QUERIES["cancel_waiting_job"] = failing_a_waiting_job(QUERIES["fail_job"])


def without_notify(insert: str) -> str:
    """insert_job or insert_unique_job without its NOTIFY (a dispatch inside the wake-up
    window, db/wakeups.py): the same insert, the same row back if it inserted one."""
    notify = "SELECT pg_notify('skiplock', queue) FROM inserted"
    assert insert.count(notify) == 1, "the insert no longer notifies as this expects"
    return insert.replace(notify, "SELECT queue FROM inserted")


INSERT_JOB_QUIETLY_SQL = without_notify(INSERT_JOB_SQL)
INSERT_UNIQUE_JOB_QUIETLY_SQL = without_notify(INSERT_UNIQUE_JOB_SQL)

CLAIM_CARRYING_MEMBERS_SQL = carrying_members(CLAIM_JOBS_SQL,
                                              as_psycopg(QUERIES["carry_on_members"]),
                                              as_psycopg(QUERIES["finished_batches"]))
