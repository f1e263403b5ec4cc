"""Alembic environment: runs on the connection the caller hands over, else the app's engine."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

connection = context.config.attributes.get("connection")
if connection is None:
    from app.database import engine

    connection = engine().connect()

# Two processes migrating one database at once (e.g. two first uses of the embedded server)
# must not both run the same revision: the advisory lock makes the second wait, then find
# nothing to do.
with connection.begin():
    connection.execute(text("SELECT pg_advisory_xact_lock(7331)"))
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
    context.run_migrations()
