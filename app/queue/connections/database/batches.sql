-- The statements on job_batches (SPEC §9), run only by BatchStore (db/batches.py). What a
-- member's outcome does to its batch is in queries.sql (claim_jobs, fail_job): it must ride
-- in the statement that records the outcome.

-- name: insert_batch
INSERT INTO job_batches (id, name, total_jobs, pending_jobs, options)
VALUES (:id, :name, :total, :total, CAST(:options AS jsonb));

-- name: find_batch
SELECT id, name, total_jobs, pending_jobs, failed_jobs, failed_job_ids, options::text AS options,
       created_at, cancelled_at, finished_at
FROM job_batches WHERE id = :id;

-- name: recent_batches
-- queue:batches: the newest first.
SELECT id, name, total_jobs, pending_jobs, failed_jobs, failed_job_ids, options::text AS options,
       created_at, cancelled_at, finished_at
FROM job_batches ORDER BY created_at DESC, id DESC LIMIT :limit;

-- name: batch_for_add
-- Batch.add(): the batch, locked until the new jobs are in, so that it cannot finish or be
-- cancelled between the check that it has not and the jobs going in. `queue`: on_queue()'s.
SELECT finished_at, cancelled_at, options ->> 'queue' AS queue
FROM job_batches WHERE id = :id FOR UPDATE;

-- name: add_to_batch
-- Batch.add(): the counters grow in the transaction that COPYs the new jobs in. A batch that
-- had ended is running again.
UPDATE job_batches
SET total_jobs = total_jobs + :count, pending_jobs = pending_jobs + :count, finished_at = NULL
WHERE id = :id
RETURNING id;

-- name: cancel_batch
-- Cancel a batch: its jobs still waiting (not reserved) leave `jobs` and count as processed,
-- as in fail_job; a running job sees `self.batch().cancelled`. If that leaves nothing to run,
-- the batch has ended: its finally_ job is enqueued (once: see claim_jobs). Returns the
-- batch if it was not cancelled already.
WITH skipped AS (
    DELETE FROM jobs WHERE batch_id = :id AND reserved_at IS NULL
    RETURNING id
),
counted AS (
    UPDATE job_batches b
    SET cancelled_at = now(), pending_jobs = b.pending_jobs - s.n,
        finished_at = CASE WHEN s.n > 0 AND b.pending_jobs - s.n = b.failed_jobs THEN now()
                           ELSE b.finished_at END
    FROM (SELECT count(*) AS n FROM skipped) AS s
    WHERE b.id = :id AND b.cancelled_at IS NULL
    RETURNING b.id, b.pending_jobs, b.failed_jobs, b.options, s.n
),
finally_job AS (
    INSERT INTO jobs (id, queue, payload, priority)
    SELECT r.id, r.queue, r.payload, r.priority
    FROM counted c CROSS JOIN LATERAL jsonb_populate_record(NULL::jobs, c.options -> 'finally') AS r
    WHERE c.n > 0 AND c.pending_jobs = c.failed_jobs AND c.options ? 'finally'
    RETURNING pg_notify('skiplock', queue)
)
SELECT id, n > 0 AND pending_jobs = failed_jobs AS finished FROM counted;

-- name: failed_ids_of_batch
-- queue:retry-batch: the batch's jobs now in failed_jobs.
SELECT id FROM failed_jobs WHERE batch_id = :id ORDER BY failed_at, id;

-- name: prune_batches
-- queue:prune-batches, as Laravel's: batches that finished more than :hours ago; with
-- :unfinished, unfinished ones created more than that ago; with :cancelled, cancelled ones
-- cancelled more than that ago.
WITH deleted AS (
    DELETE FROM job_batches
    WHERE finished_at < now() - make_interval(secs => CAST(:hours AS float8) * 3600)
       OR (finished_at IS NULL AND created_at
           < now() - make_interval(secs => CAST(:unfinished AS float8) * 3600))
       OR cancelled_at < now() - make_interval(secs => CAST(:cancelled AS float8) * 3600)
    RETURNING 1
)
SELECT count(*) AS deleted FROM deleted;
