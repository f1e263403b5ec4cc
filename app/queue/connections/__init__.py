"""Where jobs live: the queue-store contract (base.py) and its drivers (database/: PostgreSQL)."""
