"""The queue tables: jobs, failed_jobs, workers, and the small control tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE jobs (
            id               text PRIMARY KEY,
            queue            text NOT NULL,
            payload          jsonb NOT NULL,
            priority         integer NOT NULL DEFAULT 0,
            attempts         bigint NOT NULL DEFAULT 0,
            available_at     timestamptz NOT NULL DEFAULT now(),
            reserved_at      timestamptz,
            reserved_by      text,
            progress         real,
            progress_message text,
            last_error       text,
            created_at       timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # The claim query walks this index in its ORDER BY, over unreserved rows only, so its cost
    # does not grow with the backlog of reserved or waiting rows of other queues.
    op.execute(
        "CREATE INDEX jobs_claim_idx ON jobs (queue, priority, available_at, id) "
        "WHERE reserved_at IS NULL"
    )
    # Giving back the jobs of a dead worker, and queue:status's reserved counts.
    op.execute("CREATE INDEX jobs_reserved_by_idx ON jobs (reserved_by) "
               "WHERE reserved_at IS NOT NULL")
    op.execute(
        """
        CREATE TABLE failed_jobs (
            id          text PRIMARY KEY,
            connection  text NOT NULL DEFAULT 'database',
            queue       text NOT NULL,
            payload     jsonb NOT NULL,
            attempts    bigint NOT NULL DEFAULT 0,
            exception   text NOT NULL,
            failed_at   timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX failed_jobs_queue_failed_at_idx ON failed_jobs (queue, failed_at)")
    op.execute("CREATE INDEX failed_jobs_failed_at_idx ON failed_jobs (failed_at)")
    op.execute(
        """
        CREATE TABLE workers (
            id            text PRIMARY KEY,
            name          text NOT NULL,
            host          text NOT NULL,
            pid           integer NOT NULL,
            queues        text[] NOT NULL,
            concurrency   integer NOT NULL,
            running       integer NOT NULL DEFAULT 0,
            processed     bigint NOT NULL DEFAULT 0,
            failed        bigint NOT NULL DEFAULT 0,
            started_at    timestamptz NOT NULL DEFAULT now(),
            heartbeat_at  timestamptz NOT NULL DEFAULT now(),
            stopped_at    timestamptz
        )
        """
    )
    op.execute("CREATE TABLE paused_queues (queue text PRIMARY KEY, "
               "paused_at timestamptz NOT NULL DEFAULT now())")
    # queue:restart writes a timestamp here; a worker started before it exits after its jobs.
    op.execute(
        "CREATE TABLE queue_signals (name text PRIMARY KEY, "
        "signalled_at timestamptz NOT NULL DEFAULT now())"
    )


def downgrade() -> None:
    for table in ("queue_signals", "paused_queues", "workers", "failed_jobs", "jobs"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
