"""schedule_runs: one row per run of a scheduled task, claimed by the scheduler that enqueues it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The primary key is what makes a run happen once across any number of schedulers: each
    # inserts (task, due_at) with ON CONFLICT DO NOTHING in the transaction that enqueues the
    # task's job, so only one of them gets the row, and a scheduler killed mid-tick leaves
    # neither the row nor the job behind.
    op.execute(
        """
        CREATE TABLE schedule_runs (
            task         text NOT NULL,
            due_at       timestamptz NOT NULL,
            claimed_by   text NOT NULL,
            claimed_at   timestamptz NOT NULL DEFAULT now(),
            job_id       text,
            finished_at  timestamptz,
            exit_code    integer,
            PRIMARY KEY (task, due_at)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE schedule_runs")
