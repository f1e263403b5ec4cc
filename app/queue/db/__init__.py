"""The old home of the PostgreSQL driver, now app/queue/connections/database/ (the rows every
driver shares: app/queue/connections/records.py).

Each module here makes its old path name the very module at its new one, not a copy: code
written against the old paths (user code, branches started before the move) imports the same
classes, queries and enums, and patching one patches the other."""
