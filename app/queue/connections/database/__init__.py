"""The database layer: the only code that runs SQL.

    sql.py       the named statements (queries.sql, admin.sql), loaded once
    store.py     JobStore: dispatch's and the worker's statements, one method each
    libpq.py     the hot paths through libpq itself: dispatch's own connection, the claim
    errors.py    driver errors translated into QueueDatabaseError, once, at this boundary
    records.py   the rows that cross the boundary (NewJob, ClaimedJob)

The operating commands' queries are run by app/queue/admin.py (QueueAdmin).
"""
