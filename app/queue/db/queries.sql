-- Every statement dispatch and the worker run. Loaded once by app/queue/db/sql.py into a dict
-- by name; only JobStore and its libpq fast path (libpq.py) execute them. Values are always
-- bound (:name), never formatted in.
-- Times come from the database's now(), so workers on several machines share one clock.

-- name: insert_job
-- Enqueue one job and wake idle workers of its queue; NOTIFY is delivered at commit.
WITH inserted AS (
    INSERT INTO jobs (id, queue, payload, priority, available_at)
    VALUES (:id, :queue, CAST(:payload AS jsonb), :priority,
            COALESCE(CAST(:run_at AS timestamptz), now() + make_interval(secs => :delay)))
    RETURNING queue
)
SELECT pg_notify('skiplock', queue) FROM inserted;

-- name: notify_queues
-- Wake idle workers of these queues (after a bulk insert or a retry).
SELECT pg_notify('skiplock', q) FROM unnest(CAST(:queues AS text[])) AS q;

-- name: claim_jobs
-- Reserve up to :limit available jobs for :worker: queues in the order given (every job of
-- the first queue before any of the second), then priority, available_at, id. Each queue's
-- subquery walks jobs_claim_idx; SKIP LOCKED lets concurrent workers pass each other's rows.
-- MATERIALIZED keeps the locking SELECT from being inlined and re-run by the planner.
-- It also acknowledges the worker's completed jobs (:acks), saving a commit per turn; those
-- rows are reserved, so the claim in the same snapshot cannot pick them.
WITH acked AS (
    DELETE FROM jobs WHERE id = ANY(CAST(:acks AS text[])) AND reserved_by = :worker
),
picked AS MATERIALIZED (
    SELECT j.id, row_number() OVER () AS position
    FROM unnest(CAST(:queues AS text[])) WITH ORDINALITY AS q(name, ordinal)
    CROSS JOIN LATERAL (
        SELECT id FROM jobs
        WHERE jobs.queue = q.name
          AND jobs.reserved_at IS NULL
          AND jobs.available_at <= now()
        ORDER BY jobs.priority, jobs.available_at, jobs.id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) AS j
    WHERE NOT EXISTS (SELECT 1 FROM paused_queues p WHERE p.queue = q.name)
    LIMIT :limit
)
UPDATE jobs
-- LEAST: a row at the top of bigint must fail as out of attempts, not stop every claim.
SET reserved_at = now(), reserved_by = :worker,
    attempts = LEAST(jobs.attempts, 9223372036854775806) + 1
FROM picked
WHERE jobs.id = picked.id
-- waited: seconds since the job became available (for the per-minute metrics).
RETURNING jobs.id, jobs.queue, jobs.payload::text AS payload, jobs.attempts, picked.position,
    EXTRACT(epoch FROM now() - jobs.available_at)::float8 AS waited;

-- name: reserved_job
-- One job as reserved by :worker (a restarted worker finishing what its predecessor held).
SELECT id, queue, payload::text AS payload, attempts FROM jobs
WHERE id = :id AND reserved_by = :worker;

-- name: delete_jobs
-- Acknowledge completed jobs. The reserved_by check keeps a worker whose jobs were given
-- back (it looked dead) from deleting a job another worker now holds.
DELETE FROM jobs WHERE id = ANY(CAST(:ids AS text[])) AND reserved_by = :worker;

-- name: release_job
-- Put a job back (retry, release, RetryAfter) in place: same row, same id, attempts kept.
UPDATE jobs
SET reserved_at = NULL, reserved_by = NULL, last_error = :error,
    available_at = now() + make_interval(secs => :delay)
WHERE id = :id AND reserved_by = :worker
RETURNING queue;

-- name: release_limited
-- Put back a job a middleware limit held back (it never ran): the attempt does not count.
-- An available_at later than the claim was set by the holder it waits for, which woke it
-- meanwhile (free_hold in limits.sql): it stays, and the job is due at once.
UPDATE jobs
SET reserved_at = NULL, reserved_by = NULL, attempts = greatest(attempts - 1, 0),
    available_at = CASE WHEN available_at > reserved_at THEN available_at
                        ELSE now() + make_interval(secs => :delay) END
WHERE id = :id AND reserved_by = :worker
RETURNING queue, available_at <= now() AS due_now;

-- name: fail_job
-- Move a job to failed_jobs in one statement (so in one transaction).
WITH moved AS (
    DELETE FROM jobs WHERE id = :id AND reserved_by = :worker
    RETURNING id, queue, payload, attempts, priority
)
INSERT INTO failed_jobs (id, connection, queue, payload, attempts, priority, exception)
SELECT id, 'database', queue, payload, attempts, priority, :exception FROM moved
RETURNING id;

-- name: append_failure_note
-- Add a line to a failed job's exception text (e.g. the failed() hook itself raised).
UPDATE failed_jobs SET exception = exception || :note WHERE id = :id;

-- name: set_progress
UPDATE jobs SET progress = :percent, progress_message = :message
WHERE id = :id AND reserved_by = :worker;

-- name: register_worker
INSERT INTO workers (id, name, host, pid, queues, concurrency)
VALUES (:id, :name, :host, :pid, CAST(:queues AS text[]), :concurrency)
RETURNING started_at;

-- name: heartbeat
-- Beat, and read what a worker must react to: the last queue:restart signal, and whether it
-- had been presumed dead (its jobs then were given back: it logs that it is alive again).
UPDATE workers AS w
SET heartbeat_at = now(), stopped_at = NULL, exit_reason = NULL,
    running = :running, processed = :processed, failed = :failed
FROM (SELECT stopped_at AS was_stopped_at FROM workers WHERE id = :id) AS before
WHERE w.id = :id
RETURNING (SELECT signalled_at FROM queue_signals WHERE name = 'restart') AS restart_at,
          before.was_stopped_at IS NOT NULL AS was_presumed_dead;

-- name: stop_worker
UPDATE workers
SET stopped_at = now(), heartbeat_at = now(), running = 0, processed = :processed,
    failed = :failed, exit_reason = :reason
WHERE id = :id;

-- name: release_unstarted
-- Give back jobs a stopping worker reserved but never started: their attempt does not count.
UPDATE jobs
SET reserved_at = NULL, reserved_by = NULL, attempts = greatest(attempts - 1, 0)
WHERE id = ANY(CAST(:ids AS text[])) AND reserved_by = :worker;

-- name: give_back_unseen
-- After a claim whose answer was lost with its connection: it may have committed, reserving
-- jobs :worker never saw. Give back its reservations other than :known (the jobs it holds);
-- they never started, so their attempt does not count.
UPDATE jobs
SET reserved_at = NULL, reserved_by = NULL, attempts = greatest(attempts - 1, 0)
WHERE reserved_by = :worker AND reserved_at IS NOT NULL
  AND NOT (id = ANY(CAST(:known AS text[])))
RETURNING id, queue;

-- name: rescue_jobs_of_dead_workers
-- Give back the jobs of workers whose heartbeat is older than :retry_after seconds (killed,
-- powered off), and reservations whose worker row is gone; mark those workers stopped. The
-- attempt stays counted. Row locks make this safe when several live workers run it at once:
-- a row already given back no longer matches and the others skip it. A live worker that is
-- still running a long job beats every few seconds, so its rows never match.
WITH dead AS (
    UPDATE workers SET stopped_at = heartbeat_at, exit_reason = 'no heartbeat'
    WHERE stopped_at IS NULL AND heartbeat_at < now() - make_interval(secs => :retry_after)
    RETURNING id
)
UPDATE jobs
SET reserved_at = NULL, reserved_by = NULL,
    last_error = 'its worker stopped answering (no heartbeat for '
                 || CAST(:retry_after AS text) || ' s); given back'
WHERE reserved_at IS NOT NULL
  AND (reserved_by IN (SELECT id FROM workers
                       WHERE heartbeat_at < now() - make_interval(secs => :retry_after))
       OR (reserved_at < now() - make_interval(secs => :retry_after)
           AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = jobs.reserved_by)))
RETURNING id, queue;

-- name: prune_stopped_workers
-- Forget workers that stopped more than a day ago (queue:workers shows the recent ones).
DELETE FROM workers WHERE stopped_at < now() - interval '1 day';

-- name: signal_restart
INSERT INTO queue_signals (name, signalled_at) VALUES ('restart', now())
ON CONFLICT (name) DO UPDATE SET signalled_at = now()
RETURNING signalled_at;

-- name: pause_queue
-- Returns the queue only if it was not paused already.
INSERT INTO paused_queues (queue) VALUES (:queue) ON CONFLICT (queue) DO NOTHING
RETURNING queue;

-- name: resume_queue
DELETE FROM paused_queues WHERE queue = :queue RETURNING queue;

-- name: paused_queues
SELECT queue FROM paused_queues ORDER BY queue;

-- name: now
SELECT now();

-- name: abandon_worker
-- A worker quitting at once (a second Ctrl-C) gives back, in one statement, every job it holds
-- and is marked stopped. Jobs it finished (:done) are deleted; jobs it never started
-- (:unstarted) get their attempt back; those it interrupted keep theirs counted, as after a
-- crash. Idle workers of those queues are woken.
WITH stopped AS (
    UPDATE workers
    SET stopped_at = now(), heartbeat_at = now(), running = 0, processed = :processed,
        failed = :failed, exit_reason = 'interrupted'
    WHERE id = :worker
), finished AS (
    DELETE FROM jobs WHERE id = ANY(CAST(:done AS text[])) AND reserved_by = :worker
), given_back AS (
    UPDATE jobs
    SET reserved_at = NULL, reserved_by = NULL,
        attempts = CASE WHEN id = ANY(CAST(:unstarted AS text[]))
                        THEN greatest(attempts - 1, 0) ELSE attempts END,
        last_error = CASE WHEN id = ANY(CAST(:unstarted AS text[])) THEN last_error
                          ELSE 'its worker was interrupted (Ctrl-C twice); given back' END
    WHERE reserved_by = :worker AND NOT (id = ANY(CAST(:done AS text[])))
    RETURNING queue
)
SELECT count(*) AS given_back
FROM given_back CROSS JOIN LATERAL (SELECT pg_notify('skiplock', given_back.queue)) AS woken;
-- name: set_lock_timeout
-- Bound a dispatch's wait for a lock on jobs (QUEUE_DISPATCH_LOCK_TIMEOUT, in ms): for the
-- session of a connection of our own, or (:local) for the current transaction only.
SELECT set_config('lock_timeout', :timeout, CAST(:local AS boolean));
