"""queue_metrics: per-minute aggregates of finished attempts, written by workers, read by charts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per (minute, queue, class). Each worker adds what it counted since its last flush
    # with INSERT … ON CONFLICT DO UPDATE, every few seconds: never a write per job. Sums and
    # maxima (not averages) so that any number of workers' additions combine exactly.
    # The primary key leads with the minute: charts read a time range, pruning deletes one.
    op.execute(
        """
        CREATE TABLE queue_metrics (
            minute       timestamptz NOT NULL,
            queue        text NOT NULL,
            job_class    text NOT NULL,
            processed    bigint NOT NULL DEFAULT 0,
            failed       bigint NOT NULL DEFAULT 0,
            runtime_sum  double precision NOT NULL DEFAULT 0,
            runtime_max  double precision NOT NULL DEFAULT 0,
            wait_sum     double precision NOT NULL DEFAULT 0,
            wait_max     double precision NOT NULL DEFAULT 0,
            PRIMARY KEY (minute, queue, job_class)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE queue_metrics")
