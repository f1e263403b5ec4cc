"""supervisors: one row per running supervisor (heartbeat, state asked for, processes per
pool), and supervisor_processes: its processes per pool per minute, for the dashboard's chart.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `wanted` is what supervise:pause/continue/terminate ask for, from any host; the
    # supervisor reads it on its next tick and writes what it did into `state`. Two columns,
    # so that a request is never lost to the supervisor's own write of its state.
    op.execute(
        """
        CREATE TABLE supervisors (
            id            text PRIMARY KEY,
            name          text NOT NULL,
            host          text NOT NULL,
            pid           integer NOT NULL,
            connection    text NOT NULL,
            state         text NOT NULL DEFAULT 'running',
            wanted        text NOT NULL DEFAULT 'running',
            settings      jsonb NOT NULL,
            processes     jsonb NOT NULL DEFAULT '{}',
            started_at    timestamptz NOT NULL DEFAULT now(),
            heartbeat_at  timestamptz NOT NULL DEFAULT now(),
            stopped_at    timestamptz
        )
        """
    )
    op.execute(
        """
        CREATE TABLE supervisor_processes (
            minute      timestamptz NOT NULL,
            supervisor  text NOT NULL,
            host        text NOT NULL,
            pool        text NOT NULL,
            processes   integer NOT NULL,
            PRIMARY KEY (minute, supervisor, host, pool)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE supervisor_processes")
    op.execute("DROP TABLE supervisors")
