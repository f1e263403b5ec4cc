"""The PostgreSQL driver of the queue-store contract (../base.py): the only code that runs SQL.

    sql.py       the named statements (queries.sql, admin.sql), loaded once
    store.py     JobStore, the contract's QueueStore: one method per named statement
    libpq.py     the claim through libpq itself, and the connection helpers it shares with
    dispatching.py  dispatch's own connection (one INSERT per dispatch, through libpq too)
    listener.py  LISTEN/NOTIFY wake-ups and cancel notices
    metrics.py   the per-minute metrics (metrics.sql)
    batches.py, limits.py   the batch and middleware-limit stores
    wakeups.py   which dispatches NOTIFY, and the trailing one
    errors.py    driver errors translated into QueueDatabaseError, once, at this boundary

The rows that cross the boundary (NewJob, ClaimedJob …) are every driver's: ../records.py.
The operating commands' queries are run by app/queue/admin.py (QueueAdmin).
"""
