"""Composition: batches (job_batches), chains, unique jobs and cancellation on jobs rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Counters change in the transaction that records each member job's outcome, so the
    # then/catch/finally_ jobs (stored in `options`) are enqueued exactly once.
    op.execute(
        """
        CREATE TABLE job_batches (
            id              text PRIMARY KEY,
            name            text NOT NULL DEFAULT '',
            total_jobs      integer NOT NULL DEFAULT 0,
            pending_jobs    integer NOT NULL DEFAULT 0,
            failed_jobs     integer NOT NULL DEFAULT 0,
            failed_job_ids  text[] NOT NULL DEFAULT '{}',
            options         jsonb NOT NULL DEFAULT '{}',
            created_at      timestamptz NOT NULL DEFAULT now(),
            cancelled_at    timestamptz,
            finished_at     timestamptz
        )
        """
    )
    op.execute("CREATE INDEX job_batches_created_at_idx ON job_batches (created_at)")
    # Adding a nullable column (or one with a constant default) rewrites nothing: instant on
    # a queue of any size. NULL on every plain job, so the claim's acknowledgement can tell
    # plain jobs from members of a batch or chain without reading their payload.
    for table in ("jobs", "failed_jobs"):
        op.execute(f"ALTER TABLE {table} ADD COLUMN batch_id text, ADD COLUMN chain jsonb")
        op.execute(f"CREATE INDEX {table}_batch_id_idx ON {table} (batch_id) "
                   "WHERE batch_id IS NOT NULL")
    # A unique job holds its key while its row is in `jobs` (pending, delayed, running), until
    # unique_until at the latest; unique_at_start frees it when the job is claimed
    # (unique_until = "processing"). The index decides duplicates, under any concurrency.
    op.execute("ALTER TABLE jobs ADD COLUMN unique_key text, ADD COLUMN unique_until timestamptz, "
               "ADD COLUMN unique_at_start boolean NOT NULL DEFAULT false")
    op.execute("CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key) "
               "WHERE unique_key IS NOT NULL")
    # queue:cancel of a running job: its worker sees this and stops the job.
    op.execute("ALTER TABLE jobs ADD COLUMN cancelled_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE jobs DROP COLUMN cancelled_at")
    op.execute("DROP INDEX jobs_unique_key_idx")
    op.execute("ALTER TABLE jobs DROP COLUMN unique_at_start, DROP COLUMN unique_until, "
               "DROP COLUMN unique_key")
    for table in ("failed_jobs", "jobs"):
        op.execute(f"DROP INDEX {table}_batch_id_idx")
        op.execute(f"ALTER TABLE {table} DROP COLUMN chain, DROP COLUMN batch_id")
    op.execute("DROP TABLE job_batches")
