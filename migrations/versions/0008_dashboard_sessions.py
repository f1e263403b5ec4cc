"""dashboard_sessions: the dashboard's login sessions, so that logging out ends one for good.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The cookie carries a random session id; this table holds only its SHA-256, so reading
    # the table gives no session away. A row is a session that is still valid: logging out
    # deletes it, and rows past expires_at are pruned at the next login.
    op.execute("CREATE TABLE dashboard_sessions ("
               "id_hash text PRIMARY KEY, "
               "created_at timestamptz NOT NULL DEFAULT now(), "
               "expires_at timestamptz NOT NULL)")
    op.execute("CREATE INDEX dashboard_sessions_expires_at_idx "
               "ON dashboard_sessions (expires_at)")


def downgrade() -> None:
    op.execute("DROP TABLE dashboard_sessions")
