"""queue_metrics: runtime and wait bucket counts per minute, for /metrics' histograms.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Counts per bucket of app/queue/metrics.py's BUCKETS (not cumulative; the last is +Inf),
    # added element-wise by each flush's upsert. Rows written before this revision hold '{}'.
    op.execute("ALTER TABLE queue_metrics "
               "ADD COLUMN runtime_buckets bigint[] NOT NULL DEFAULT '{}', "
               "ADD COLUMN wait_buckets bigint[] NOT NULL DEFAULT '{}'")


def downgrade() -> None:
    op.execute("ALTER TABLE queue_metrics DROP COLUMN wait_buckets, DROP COLUMN runtime_buckets")
