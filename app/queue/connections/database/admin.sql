-- The statements the operating commands run (queue:failed, queue:retry, queue:status, ...).
-- Loaded once by app/queue/db/sql.py into a dict by name; only QueueAdmin executes them.
-- Values are always bound (:name), never formatted in; times come from the database's now().

-- name: failed_jobs
-- A page of failed jobs, newest first, optionally of one queue and after a given row (keyset:
-- :after_at/:after_id are the failed_at and id of the last row of the previous page). Walks
-- failed_jobs_failed_at_idx backwards (or failed_jobs_queue_failed_at_idx with a queue).
SELECT id, queue, payload->>'job' AS job_class, attempts, exception, failed_at
FROM failed_jobs
WHERE (CAST(:queue AS text) IS NULL OR queue = :queue)
  AND (CAST(:after_id AS text) IS NULL
       OR (failed_at, id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS text)))
ORDER BY failed_at DESC, id DESC
LIMIT :limit OFFSET :offset;

-- name: failed_job_position
-- Where a failed job sits in the newest-first order (the cursor behind queue:failed --after).
SELECT id, failed_at FROM failed_jobs WHERE id = :id;

-- name: failed_batch
-- The next batch of `queue:retry all` / `queue:retry-failed`, locked for retry_failed_jobs in
-- the same transaction: up to :limit jobs of :queue (all queues when NULL) that failed before
-- :before (the command's start: a job that fails again while the command runs is not retried
-- twice), in (failed_at, id) order after the previous batch's last row. That cursor keeps each
-- batch a short walk of failed_jobs_failed_at_idx (or failed_jobs_queue_failed_at_idx)
-- instead of a re-scan past the rows already moved. SKIP LOCKED lets two retries run at once.
SELECT f.id, f.failed_at FROM failed_jobs f
WHERE (CAST(:queue AS text) IS NULL OR f.queue = :queue)
  AND f.failed_at <= CAST(:before AS timestamptz)
  AND f.failed_at >= CAST(:after_at AS timestamptz)
  AND (f.failed_at, f.id) > (CAST(:after_at AS timestamptz), CAST(:after_id AS text))
ORDER BY f.failed_at, f.id
LIMIT :limit
FOR UPDATE SKIP LOCKED;

-- name: retry_failed_jobs
-- Move these failed jobs back to `jobs` in one statement (so in one transaction): same id,
-- attempts reset, available now, not reserved. Returns every one found in failed_jobs, with
-- `queue` NULL for one left in place: its id is in `jobs` again (moving it would lose it to
-- the conflicting insert), or (`held`) it is a unique job whose key another job holds now,
-- or holds among these (the oldest failure goes back). A unique job goes back with its key,
-- its lock lasting unique_for from now, as at dispatch; an expired key is cleared first, as
-- insert_unique_job does. The one statement that moves failed jobs back: queue:retry names
-- the ids, queue:retry all takes them from failed_batch.
WITH picked AS MATERIALIZED (
    SELECT id, unique_key, failed_at FROM failed_jobs
    WHERE id = ANY(CAST(:ids AS text[])) FOR UPDATE
), expired AS (
    UPDATE jobs SET unique_key = NULL
    WHERE unique_key IN (SELECT unique_key FROM picked) AND unique_until <= now()
    RETURNING 1
), held AS MATERIALIZED (
    SELECT unique_key FROM jobs
    WHERE unique_key IN (SELECT unique_key FROM picked) AND unique_until > now()
), chosen AS MATERIALIZED (
    SELECT id FROM picked WHERE unique_key IS NULL
    UNION ALL
    (SELECT DISTINCT ON (unique_key) id FROM picked
     WHERE unique_key IS NOT NULL AND unique_key NOT IN (SELECT unique_key FROM held)
     ORDER BY unique_key, failed_at, id)
), moved AS (
    DELETE FROM failed_jobs f USING chosen
    WHERE f.id = chosen.id
      AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = f.id)
      AND (SELECT count(*) FROM expired) >= 0
    RETURNING f.id, f.queue, f.payload, f.priority, f.batch_id, f.chain, f.unique_key,
              f.unique_for, f.unique_at_start
), inserted AS (
    -- A member of a batch or chain stays one: its success counts there, its chain goes on.
    INSERT INTO jobs (id, queue, payload, priority, attempts, available_at, reserved_at,
                      reserved_by, batch_id, chain, unique_key, unique_until, unique_at_start)
    SELECT id, queue, payload, priority, 0, now(), NULL, NULL, batch_id, chain, unique_key,
           CASE WHEN unique_key IS NOT NULL
                THEN now() + make_interval(secs => COALESCE(unique_for, 0)) END,
           unique_at_start
    FROM moved
    RETURNING id, queue
)
SELECT p.id, i.queue, i.id IS NULL AND p.id NOT IN (SELECT id FROM chosen) AS held
FROM picked p LEFT JOIN inserted i ON i.id = p.id;

-- name: forget_failed_job
DELETE FROM failed_jobs WHERE id = :id RETURNING id;

-- name: flush_failed_jobs
-- Delete failed jobs that failed more than :hours ago (every one when :hours is NULL).
WITH deleted AS (
    DELETE FROM failed_jobs
    WHERE CAST(:hours AS double precision) IS NULL
       OR failed_at < now() - make_interval(secs => CAST(:hours AS double precision) * 3600)
    RETURNING 1
)
SELECT count(*) AS deleted FROM deleted;

-- name: clear_queue
-- Delete the waiting jobs (pending and delayed) of a queue. Reserved jobs are left to the
-- workers running them: deleting them would not stop them, only lose their outcome.
WITH deleted AS (
    DELETE FROM jobs WHERE queue = :queue AND reserved_at IS NULL
    RETURNING 1
)
SELECT count(*) AS deleted FROM deleted;

-- name: queue_status
-- Per queue: pending (available now), delayed, reserved and failed counts, the oldest pending
-- job's wait, paused. One snapshot. Each count is a GROUP BY over an index: waiting rows through
-- jobs_claim_idx (queue first, available_at inside: an index-only scan), reserved rows through
-- the partial jobs_reserved_by_idx (few: at most the workers' concurrency), failed rows through
-- failed_jobs_queue_failed_at_idx. :queues are listed even when empty (the default queue).
WITH waiting AS (
    SELECT queue,
           count(*) FILTER (WHERE available_at <= now()) AS pending,
           count(*) FILTER (WHERE available_at > now()) AS delayed,
           min(available_at) FILTER (WHERE available_at <= now()) AS oldest_pending_at
    FROM jobs WHERE reserved_at IS NULL
    GROUP BY queue
), reserved AS (
    SELECT queue, count(*) AS reserved FROM jobs WHERE reserved_at IS NOT NULL GROUP BY queue
), failed AS (
    SELECT queue, count(*) AS failed FROM failed_jobs GROUP BY queue
), names AS (
    SELECT queue FROM waiting
    UNION SELECT queue FROM reserved
    UNION SELECT queue FROM failed
    UNION SELECT queue FROM paused_queues
    UNION SELECT unnest(CAST(:queues AS text[]))
)
SELECT n.queue,
       coalesce(w.pending, 0) AS pending,
       coalesce(w.delayed, 0) AS delayed,
       coalesce(r.reserved, 0) AS reserved,
       coalesce(f.failed, 0) AS failed,
       w.oldest_pending_at,
       extract(epoch FROM now() - w.oldest_pending_at)::double precision AS oldest_pending_age,
       p.queue IS NOT NULL AS paused
FROM names n
LEFT JOIN waiting w ON w.queue = n.queue
LEFT JOIN reserved r ON r.queue = n.queue
LEFT JOIN failed f ON f.queue = n.queue
LEFT JOIN paused_queues p ON p.queue = n.queue
ORDER BY n.queue;

-- name: monitor_queues
-- For each of :queues, in the order given (listed even when empty): pending, delayed and
-- reserved counts, their sum (the queue's size, as Laravel's queue:monitor counts it: every
-- job not yet done), and the oldest pending job's wait. One snapshot, one pass over the rows
-- of those queues: waiting rows through jobs_claim_idx (queue first) or, when the queues named
-- hold most of the table, one sequential scan; reserved rows through the partial
-- jobs_reserved_by_idx (few). (A LATERAL count per queue was planned as a full scan per queue:
-- twice as slow with 1M rows in two queues.)
WITH waiting AS (
    SELECT queue,
           count(*) FILTER (WHERE available_at <= now()) AS pending,
           count(*) FILTER (WHERE available_at > now()) AS delayed,
           min(available_at) FILTER (WHERE available_at <= now()) AS oldest_pending_at
    FROM jobs WHERE reserved_at IS NULL AND queue = ANY(CAST(:queues AS text[]))
    GROUP BY queue
), reserved AS (
    SELECT queue, count(*) AS reserved FROM jobs
    WHERE reserved_at IS NOT NULL AND queue = ANY(CAST(:queues AS text[]))
    GROUP BY queue
)
SELECT q.queue, coalesce(w.pending, 0) AS pending, coalesce(w.delayed, 0) AS delayed,
       coalesce(r.reserved, 0) AS reserved,
       coalesce(w.pending + w.delayed, 0) + coalesce(r.reserved, 0) AS size,
       w.oldest_pending_at,
       extract(epoch FROM now() - w.oldest_pending_at)::double precision AS oldest_pending_age
FROM unnest(CAST(:queues AS text[])) WITH ORDINALITY AS q(queue, position)
LEFT JOIN waiting w ON w.queue = q.queue
LEFT JOIN reserved r ON r.queue = q.queue
ORDER BY q.position;

-- name: find_job
-- One job wherever it is: in `jobs` (pending, delayed or reserved, with its worker) or in
-- `failed_jobs`. At most one row: a job is moved between the tables in one statement. The
-- arguments of an encrypted job are the string '[encrypted]': its ciphertext never leaves the
-- database either.
SELECT j.id, j.queue, j.payload->>'job' AS job_class, j.attempts, j.priority,
       CASE WHEN j.reserved_at IS NOT NULL THEN 'reserved'
            WHEN j.available_at > now() THEN 'delayed'
            ELSE 'pending' END AS state,
       j.progress, j.progress_message, j.last_error AS error,
       j.created_at, j.available_at, j.reserved_at, NULL::timestamptz AS failed_at,
       j.reserved_by AS worker_id, w.name AS worker_name, w.host AS worker_host,
       w.pid AS worker_pid, j.batch_id, j.chain ->> 'id' AS chain_id,
       jsonb_array_length(j.chain -> 'next') AS chain_steps_after,
       CASE WHEN j.payload ->> 'encrypted' = 'true' THEN to_jsonb(CAST('[encrypted]' AS text))
            ELSE j.payload -> 'data' END AS arguments
FROM jobs j LEFT JOIN workers w ON w.id = j.reserved_by
WHERE j.id = :id
UNION ALL
SELECT f.id, f.queue, f.payload->>'job', f.attempts, f.priority, 'failed', NULL, NULL, f.exception,
       NULL, NULL, NULL, f.failed_at, NULL, NULL, NULL, NULL, f.batch_id, f.chain ->> 'id',
       jsonb_array_length(f.chain -> 'next'),
       CASE WHEN f.payload ->> 'encrypted' = 'true' THEN to_jsonb(CAST('[encrypted]' AS text))
            ELSE f.payload -> 'data' END
FROM failed_jobs f
WHERE f.id = :id;

-- name: workers
-- Workers with their state by the database clock: dead (no heartbeat for :retry_after
-- seconds, whether or not its jobs were given back yet), stopped (it exited), live. Without
-- :include_all, live workers and those dead (silent, or found so within the last hour) only:
-- a stopped worker exited as asked (--stop-when-empty, queue:restart, a signal). Running is
-- counted from the jobs each worker has reserved now (through the partial
-- jobs_reserved_by_idx: a worker's own few rows), not read from its last heartbeat: a job
-- shows as running the moment it is claimed, at no cost to the worker. Capped at the
-- worker's concurrency: a job claimed ahead is reserved but waits for a free slot. A row
-- marked stopped shows 0: its jobs are done or were given back.
SELECT id, name, host, pid, queues, concurrency,
       CASE WHEN stopped_at IS NULL
            THEN least(concurrency, (SELECT count(*) FROM jobs j
                                     WHERE j.reserved_at IS NOT NULL AND j.reserved_by = w.id))
            ELSE 0 END::integer AS running, processed, failed,
       started_at, heartbeat_at, stopped_at,
       extract(epoch FROM now() - heartbeat_at)::double precision AS heartbeat_age,
       CASE WHEN exit_reason = 'no heartbeat' THEN 'dead'
            WHEN stopped_at IS NOT NULL THEN 'stopped'
            WHEN heartbeat_at < now() - make_interval(secs => :retry_after) THEN 'dead'
            ELSE 'live' END AS state
FROM workers w
WHERE CAST(:include_all AS boolean)
   OR stopped_at IS NULL
   OR (exit_reason = 'no heartbeat' AND stopped_at > now() - interval '1 hour')
ORDER BY started_at, id;

-- name: known_queues
-- Every queue a job or a live worker names, and :queues (the default queue), sorted: what
-- queue:monitor checks when no queue is named. The waiting jobs' queues are read by a loose
-- index scan of jobs_claim_idx (queue first): one index probe per distinct queue, however
-- many rows each holds; the reserved ones through the partial jobs_reserved_by_idx (few).
WITH RECURSIVE waiting(queue) AS (
    (SELECT queue FROM jobs WHERE reserved_at IS NULL ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT j.queue FROM jobs j
            WHERE j.reserved_at IS NULL AND j.queue > w.queue ORDER BY j.queue LIMIT 1)
    FROM waiting w WHERE w.queue IS NOT NULL
)
SELECT queue FROM waiting WHERE queue IS NOT NULL
UNION SELECT queue FROM jobs WHERE reserved_at IS NOT NULL
UNION SELECT unnest(queues) FROM workers WHERE stopped_at IS NULL
UNION SELECT unnest(CAST(:queues AS text[]))
ORDER BY queue;

-- name: queue_is_known
-- Whether any job (waiting, reserved or failed) or any worker not stopped names :queue: a
-- queue:pause of a queue nothing knows is most likely a typo. Each probe is one index lookup.
SELECT EXISTS (SELECT 1 FROM jobs WHERE queue = :queue AND reserved_at IS NULL)
    OR EXISTS (SELECT 1 FROM jobs WHERE queue = :queue AND reserved_at IS NOT NULL)
    OR EXISTS (SELECT 1 FROM failed_jobs WHERE queue = :queue)
    OR EXISTS (SELECT 1 FROM workers WHERE stopped_at IS NULL AND :queue = ANY(queues))
    AS known;
