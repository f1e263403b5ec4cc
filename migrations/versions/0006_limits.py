"""Limits of job middleware (RateLimited, ConcurrencyLimit, WithoutOverlapping,
ThrottlesExceptions): one table, shared by every worker process and host.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A table rather than advisory locks held for the whole run: a session-level advisory lock
    # pins the connection for as long as the job runs (one connection per running job, and
    # none of it through PgBouncer's transaction pooling), a rate limit needs the times of
    # past starts, and a waiting job needs to be found and woken when a holder is done. Only
    # the short transaction that reads and changes a key's rows takes an advisory lock
    # (pg_advisory_xact_lock), which serialises the decisions of one key and nothing else.
    #
    # kind: 'started' (a start that a rate window counts, at = when), 'holding' (a running job
    # counted by a concurrency limit, at = since; alive while its worker's heartbeat is, and
    # until expires_at), 'waiting' (a job held back, at = when it may try again), 'exception'
    # (an exception ThrottlesExceptions counts, at = when), 'woken' (a waiting job a holder
    # woke when it was done, so that the next holder to end wakes another).
    op.execute(
        """
        CREATE TABLE job_limits (
            key         text NOT NULL,
            kind        text NOT NULL,
            job_id      text NOT NULL,
            at          timestamptz NOT NULL DEFAULT clock_timestamp(),
            worker_id   text,
            expires_at  timestamptz,
            PRIMARY KEY (key, kind, job_id)
        )
        """
    )
    op.execute("CREATE INDEX job_limits_at_idx ON job_limits (key, kind, at)")


def downgrade() -> None:
    op.execute("DROP TABLE job_limits")
