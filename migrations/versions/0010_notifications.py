"""queue_notifications: when each queue's last long-wait notification went out, and by whom.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per (connection, queue), as schedule_runs has one per run: a notifier sends only
    # if its upsert moved notified_at, and the upsert's WHERE (the cooldown is over) is decided
    # under the row's lock, so of any number of notifiers in the same minute exactly one sends.
    op.execute(
        """
        CREATE TABLE queue_notifications (
            connection    text NOT NULL,
            queue         text NOT NULL,
            notified_at   timestamptz NOT NULL,
            wait_seconds  double precision NOT NULL,
            notified_by   text NOT NULL,
            PRIMARY KEY (connection, queue)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE queue_notifications")
