"""A failed unique job keeps its lock's settings, so that a retry takes the lock again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # fail_job copies the key and the lock's length (unique_until - created_at, which is the
    # class's unique_for) from `jobs`; retry_failed_jobs puts them back, the lock starting
    # anew. NULL for plain jobs and for rows that failed before this revision.
    op.execute("ALTER TABLE failed_jobs ADD COLUMN unique_key text, "
               "ADD COLUMN unique_for double precision, "
               "ADD COLUMN unique_at_start boolean NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute("ALTER TABLE failed_jobs DROP COLUMN unique_at_start, DROP COLUMN unique_for, "
               "DROP COLUMN unique_key")
