"""failed_jobs.priority (a retried job keeps it) and workers.exit_reason (dead vs stopped).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE failed_jobs ADD COLUMN priority integer NOT NULL DEFAULT 0")
    # NULL while running; why the worker ended: its stop reason, or 'no heartbeat' when
    # another worker found it dead and gave its jobs back.
    op.execute("ALTER TABLE workers ADD COLUMN exit_reason text")


def downgrade() -> None:
    op.execute("ALTER TABLE workers DROP COLUMN exit_reason")
    op.execute("ALTER TABLE failed_jobs DROP COLUMN priority")
