"""The queue's SQL: named blocks of the .sql files beside this module, loaded once.

`queries.sql` holds what dispatch and the worker run (JobStore, the libpq fast path),
`limits.sql` what the limits of job middleware run (LimitStore),
`admin.sql` what the operating commands run (QueueAdmin). Only the store classes execute them.
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
INSERT_JOB_SQL = as_psycopg(QUERIES["insert_job"])
SET_LOCK_TIMEOUT_SQL = as_psycopg(QUERIES["set_lock_timeout"])
NOTIFY_QUEUES_SQL = as_psycopg(QUERIES["notify_queues"])
CLAIM_JOBS_SQL = as_psycopg(QUERIES["claim_jobs"])
LIMIT_QUERIES = load_queries(HERE / "limits.sql")
