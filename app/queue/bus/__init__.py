"""Composition on top of dispatch: chains (chain.py) and batches (batch.py). Both travel as
rows: a chain in the `chain` column of its current job, a batch in `job_batches` and the
`batch_id` of its jobs; the worker's own statements (db/queries.sql) carry them on."""
