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

-- name: insert_unique_job
-- insert_job for a unique job: nothing is inserted (and no row comes back) while another row
-- holds its key. First the key of a row whose lock has expired (unique_until passed) is
-- cleared: the insert reads `expired`, so it runs first (a CTE nothing reads would run after
-- the insert). Two dispatchers racing on an expired lock: the second waits for the first's
-- row lock, then finds the key cleared (nothing to update) and the first's new row in the
-- index, which ON CONFLICT checks against committed and in-progress rows alike.
WITH expired AS (
    UPDATE jobs SET unique_key = NULL
    WHERE unique_key = :unique_key AND unique_until <= now()
    RETURNING 1
), inserted AS (
    INSERT INTO jobs (id, queue, payload, priority, available_at, unique_key, unique_until,
                      unique_at_start)
    SELECT CAST(:id AS text), CAST(:queue AS text), CAST(:payload AS jsonb),
           CAST(:priority AS integer),
           COALESCE(CAST(:run_at AS timestamptz), now() + make_interval(secs => :delay)),
           CAST(:unique_key AS text), now() + make_interval(secs => :unique_for),
           CAST(:unique_at_start AS boolean)
    WHERE (SELECT count(*) FROM expired) >= 0
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
    RETURNING queue
)
SELECT pg_notify('skiplock', queue) FROM inserted;

-- name: insert_jobs_unique
-- dispatch_many of a list holding unique jobs (COPY cannot skip a duplicate): the rows that
-- were inserted come back; a duplicate, within the list (its first wins) or of a row already
-- there, is skipped. Expired keys are cleared first, as in insert_unique_job. Rows go in in
-- key order, so two lists sharing keys wait for each other in one order and never deadlock.
WITH expired AS (
    UPDATE jobs SET unique_key = NULL
    WHERE unique_key = ANY(CAST(:unique_keys AS text[])) AND unique_until <= now()
    RETURNING 1
)
INSERT INTO jobs (id, queue, payload, priority, unique_key, unique_until, unique_at_start)
SELECT r.id, r.queue, CAST(r.payload AS jsonb), r.priority, r.unique_key,
       now() + make_interval(secs => r.unique_for), r.unique_at_start
FROM unnest(CAST(:ids AS text[]), CAST(:queues AS text[]), CAST(:payloads AS text[]),
            CAST(:priorities AS integer[]), CAST(:unique_keys AS text[]),
            CAST(:unique_fors AS float8[]), CAST(:unique_at_starts AS boolean[]))
     WITH ORDINALITY AS r(id, queue, payload, priority, unique_key, unique_for,
                          unique_at_start, position)
WHERE (SELECT count(*) FROM expired) >= 0
ORDER BY r.unique_key, r.position
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
RETURNING id, queue;

-- name: notify_queues
-- Wake idle workers of these queues (after a bulk insert or a retry).
SELECT pg_notify('skiplock', q) FROM unnest(CAST(:queues AS text[])) AS q;

-- name: claim_jobs
-- Reserve up to :limit available jobs for :worker: queues in the order given (every job of
-- the first queue before any of the second), then priority, available_at, id. Each queue's
-- subquery walks jobs_claim_idx; SKIP LOCKED lets concurrent workers pass each other's rows.
-- MATERIALIZED keeps the locking SELECT from being inlined and re-run by the planner.
-- The rows picked are updated by ctid (a TID scan per row: nothing else can plan it). Joined by
-- id, the plan a worker prepared while jobs was empty (a fresh install; or a VACUUM had just
-- truncated it) walked the whole primary key for every claim, and kept doing so as the backlog
-- grew until an ANALYZE: 328 ms a claim with 50,000 rows waiting, against 0.7 ms by ctid
-- (with fresh statistics both take 0.3-0.9 ms). A row another claim updates between this one's
-- snapshot and its lock is skipped (not updated twice): the claim then returns fewer rows.
-- It also acknowledges the worker's completed jobs (:acks), saving a commit per turn; those
-- rows are reserved, so the claim in the same snapshot cannot pick them. When :acks hold a
-- member of a chain or batch, the Claimer sends this statement with carry_on_members spliced
-- in after `acked` (sql.py), and gets one more row per batch it finished (id NULL).
WITH acked AS (
    DELETE FROM jobs WHERE id = ANY(CAST(:acks AS text[])) AND reserved_by = :worker
    RETURNING batch_id, chain
),
picked AS MATERIALIZED (
    SELECT j.ctid, row_number() OVER () AS position
    FROM unnest(CAST(:queues AS text[])) WITH ORDINALITY AS q(name, ordinal)
    CROSS JOIN LATERAL (
        SELECT ctid FROM jobs
        WHERE jobs.queue = q.name
          AND jobs.reserved_at IS NULL
          AND jobs.available_at <= now()
        ORDER BY jobs.priority, jobs.available_at, jobs.id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) AS j
    WHERE NOT EXISTS (SELECT 1 FROM paused_queues p WHERE p.queue = q.name)
    LIMIT :limit
),
claimed AS (
    UPDATE jobs
    -- LEAST: a row at the top of bigint must fail as out of attempts, not stop every claim.
    SET reserved_at = now(), reserved_by = :worker,
        attempts = LEAST(jobs.attempts, 9223372036854775806) + 1,
        -- unique_until = "processing": the job's unique lock ends as it starts. Costs nothing
        -- measurable: 37 against 38 us of server CPU a job (claims of 10 with their acks, 16
        -- alternated runs of 5,000 jobs, 2026-11-28).
        unique_key = CASE WHEN jobs.unique_at_start THEN NULL ELSE jobs.unique_key END
    FROM picked
    WHERE jobs.ctid = picked.ctid
    -- waited: seconds since the job became available (for the per-minute metrics).
    RETURNING jobs.id, jobs.queue, jobs.payload::text AS payload, jobs.attempts, picked.position,
        EXTRACT(epoch FROM now() - jobs.available_at)::float8 AS waited, jobs.batch_id,
        jobs.chain ->> 'id' AS chain_id,
        -- Cancelled while a worker that died held it: failed as cancelled, never run again.
        jobs.cancelled_at IS NOT NULL AS cancelled
)
SELECT id, queue, payload, attempts, position, waited, batch_id, chain_id, cancelled,
       CAST(NULL AS text) AS finished_batch
FROM claimed;

-- name: carry_on_members
-- The steps claim_jobs takes for acknowledged members of a chain or batch, in the same
-- transaction as their delete: the chain's next step is enqueued, its batch's pending_jobs
-- counted down (a chain in a batch counts once, at its last step), and a batch's
-- then/finally_ jobs enqueued when it ends. A job_batches row is locked by its UPDATE and
-- re-read at its latest version (READ COMMITTED), so exactly one transaction sees each counter
-- reach its end, whatever ran concurrently. Spliced into claim_jobs only when a member is
-- among the acks: for plain jobs these steps would find no row, yet cost ~10 % of each claim
-- (1.60 -> 1.73 ms a claim of 10, medians of 1,000 alternated claims, 2026-11-28).
members AS MATERIALIZED (
    SELECT a.batch_id, a.chain, b.cancelled_at IS NOT NULL AS cancelled
    FROM acked a LEFT JOIN job_batches b ON b.id = a.batch_id
    WHERE a.batch_id IS NOT NULL OR a.chain IS NOT NULL
),
next_steps AS (
    -- A cancelled batch's chains stop here (the step counts as the chain's end, below).
    INSERT INTO jobs (id, queue, payload, priority, batch_id, chain)
    SELECT step.id, step.queue, step.payload, step.priority, m.batch_id,
           jsonb_set(m.chain, ARRAY['next'], (m.chain -> 'next') - 0)
    FROM members m
    CROSS JOIN LATERAL jsonb_populate_record(NULL::jobs, m.chain -> 'next' -> 0) AS step
    WHERE jsonb_array_length(m.chain -> 'next') > 0 AND NOT m.cancelled
    RETURNING pg_notify('skiplock', queue)
),
items_done AS (
    SELECT batch_id, count(*) AS n FROM members
    WHERE batch_id IS NOT NULL
      AND (chain IS NULL OR jsonb_array_length(chain -> 'next') = 0 OR cancelled)
    GROUP BY batch_id
),
counted AS (
    -- Laravel's counters: pending_jobs counts down on success only, so a batch has run
    -- every job when pending_jobs = failed_jobs.
    UPDATE job_batches b
    SET pending_jobs = b.pending_jobs - d.n,
        finished_at = CASE WHEN b.pending_jobs - d.n = b.failed_jobs THEN now()
                           ELSE b.finished_at END
    FROM items_done d
    WHERE b.id = d.batch_id
    RETURNING b.id, b.pending_jobs, b.failed_jobs, b.cancelled_at, b.options
),
batch_callbacks AS (
    INSERT INTO jobs (id, queue, payload, priority)
    SELECT r.id, r.queue, r.payload, r.priority
    FROM counted c
    CROSS JOIN LATERAL (VALUES ('then', c.pending_jobs = 0 AND c.cancelled_at IS NULL),
                               ('finally', c.pending_jobs = c.failed_jobs)) AS due(name, now)
    CROSS JOIN LATERAL jsonb_populate_record(NULL::jobs, c.options -> due.name) AS r
    WHERE due.now AND c.options ? due.name
    RETURNING pg_notify('skiplock', queue)
),

-- name: finished_batches
-- Appended to claim_jobs with carry_on_members: a row per batch the acks finished.
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, id FROM counted
WHERE pending_jobs = failed_jobs;

-- name: insert_member
-- Enqueue the first job of a chain (`chain`: the rest of it) or one job of a batch.
WITH inserted AS (
    INSERT INTO jobs (id, queue, payload, priority, batch_id, chain)
    VALUES (:id, :queue, CAST(:payload AS jsonb), :priority, :batch_id, CAST(:chain AS jsonb))
    RETURNING queue
)
SELECT pg_notify('skiplock', queue) FROM inserted;

-- name: reserved_job
-- One job as reserved by :worker (a restarted worker finishing what its predecessor held).
SELECT id, queue, payload::text AS payload, attempts, batch_id, chain ->> 'id' AS chain_id
FROM jobs WHERE id = :id AND reserved_by = :worker;

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
-- Move a job to failed_jobs in one statement (so in one transaction). A member of a chain
-- enqueues the chain's catch job; a member of a batch counts as failed there (Laravel's
-- counters: pending_jobs stays), and the first failure of a batch that does not allow
-- failures cancels it: its jobs still waiting (not reserved) leave `jobs` and count as
-- processed. The batch's catch job is enqueued at its first failure, finally_ once every
-- job has run (see claim_jobs for why each happens once). A catch job's payload gets the
-- failed job's id and :error (a one-line summary) in its context.
-- Returns the failed job's id, and the batch this statement finished, if any.
WITH moved AS (
    DELETE FROM jobs WHERE id = :id AND reserved_by = :worker
    RETURNING id, queue, payload, attempts, priority, batch_id, chain, unique_key,
              unique_until, unique_at_start, created_at
),
failed AS (
    -- A unique job's key and lock length go along, for a retry to take the lock again.
    INSERT INTO failed_jobs (id, connection, queue, payload, attempts, priority, exception,
                             batch_id, chain, unique_key, unique_for, unique_at_start)
    SELECT id, 'database', queue, payload, attempts, priority, :exception, batch_id, chain,
           unique_key, EXTRACT(EPOCH FROM unique_until - created_at), unique_at_start
    FROM moved
    RETURNING id
),
failure AS (
    SELECT jsonb_build_object('failed_job_id', :id, 'error', CAST(:error AS text)) AS context
),
chain_caught AS (
    INSERT INTO jobs (id, queue, payload, priority)
    SELECT c.id, c.queue,
           jsonb_set(c.payload, ARRAY['context'], (c.payload -> 'context') || failure.context),
           c.priority
    FROM moved m CROSS JOIN failure
    CROSS JOIN LATERAL jsonb_populate_record(NULL::jobs, m.chain -> 'catch') AS c
    WHERE m.chain ? 'catch'
    RETURNING pg_notify('skiplock', queue)
),
batch AS MATERIALIZED (
    SELECT m.batch_id, COALESCE(CAST(b.options ->> 'allow_failures' AS boolean), false) AS allows
    FROM moved m JOIN job_batches b ON b.id = m.batch_id
),
skipped AS (
    DELETE FROM jobs j USING batch
    WHERE j.batch_id = batch.batch_id AND j.reserved_at IS NULL AND NOT batch.allows
    RETURNING j.id
),
counted AS (
    UPDATE job_batches b
    SET failed_jobs = b.failed_jobs + 1,
        failed_job_ids = array_append(b.failed_job_ids, CAST(:id AS text)),
        pending_jobs = b.pending_jobs - s.n,
        cancelled_at = CASE WHEN batch.allows THEN b.cancelled_at
                            ELSE COALESCE(b.cancelled_at, now()) END,
        finished_at = CASE WHEN b.pending_jobs - s.n = b.failed_jobs + 1 THEN now()
                           ELSE b.finished_at END
    FROM batch, (SELECT count(*) AS n FROM skipped) AS s
    WHERE b.id = batch.batch_id
    RETURNING b.id, b.pending_jobs, b.failed_jobs, b.options
),
batch_callbacks AS (
    INSERT INTO jobs (id, queue, payload, priority)
    SELECT r.id, r.queue,
           CASE WHEN due.name = 'catch'
                THEN jsonb_set(r.payload, ARRAY['context'],
                              (r.payload -> 'context') || failure.context)
                ELSE r.payload END,
           r.priority
    FROM counted c CROSS JOIN failure
    CROSS JOIN LATERAL (VALUES ('catch', c.failed_jobs = 1),
                               ('finally', c.pending_jobs = c.failed_jobs)) AS due(name, now)
    CROSS JOIN LATERAL jsonb_populate_record(NULL::jobs, c.options -> due.name) AS r
    WHERE due.now AND c.options ? due.name
    RETURNING pg_notify('skiplock', queue)
)
SELECT f.id, (SELECT id FROM counted WHERE pending_jobs = failed_jobs) AS finished_batch
FROM failed f;

-- name: lock_job_to_cancel
-- The job's row, locked until the cancel's transaction ends: no claim, ack or release
-- changes it between this and the statement that cancels it.
SELECT reserved_at IS NOT NULL AS running FROM jobs WHERE id = :id FOR UPDATE;

-- name: cancel_running_job
-- Ask the worker running a job to stop it: its listener hears `worker job` on
-- skiplock_cancel; the heartbeat reads cancelled_at too (see heartbeat).
WITH marked AS (
    UPDATE jobs SET cancelled_at = COALESCE(cancelled_at, now())
    WHERE id = :id AND reserved_at IS NOT NULL
    RETURNING id, reserved_by
)
SELECT pg_notify('skiplock_cancel', reserved_by || ' ' || id) FROM marked;

-- name: is_failed_job
SELECT EXISTS (SELECT 1 FROM failed_jobs WHERE id = :id) AS failed;

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
-- Beat, and read what a worker must react to: the last queue:restart signal, whether it
-- had been presumed dead (its jobs then were given back: it logs that it is alive again), and
-- its running jobs that were cancelled (the NOTIFY of cancel_running_job is lost while the
-- listener reconnects, and never sent to a worker with QUEUE_LISTEN=false). Read through
-- jobs_reserved_by_idx: the worker's own reservations only.
UPDATE workers AS w
SET heartbeat_at = now(), stopped_at = NULL, exit_reason = NULL,
    running = :running, processed = :processed, failed = :failed
FROM (SELECT stopped_at AS was_stopped_at FROM workers WHERE id = :id) AS before
WHERE w.id = :id
RETURNING (SELECT signalled_at FROM queue_signals WHERE name = 'restart') AS restart_at,
          before.was_stopped_at IS NOT NULL AS was_presumed_dead,
          ARRAY(SELECT id FROM jobs WHERE reserved_by = :id AND cancelled_at IS NOT NULL)
              AS cancelled;

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
-- and is marked stopped. Jobs it finished (:done) are deleted, but for members of a chain or
-- batch, whose success only claim_jobs records: those are given back and run again, as after
-- a crash. Jobs it never started (:unstarted) get their attempt back; those it interrupted
-- keep theirs counted, as after a crash. Idle workers of those queues are woken.
WITH stopped AS (
    UPDATE workers
    SET stopped_at = now(), heartbeat_at = now(), running = 0, processed = :processed,
        failed = :failed, exit_reason = 'interrupted'
    WHERE id = :worker
), finished AS (
    DELETE FROM jobs WHERE id = ANY(CAST(:done AS text[])) AND reserved_by = :worker
      AND batch_id IS NULL AND chain IS NULL
), given_back AS (
    UPDATE jobs
    SET reserved_at = NULL, reserved_by = NULL,
        attempts = CASE WHEN id = ANY(CAST(:unstarted AS text[]))
                        THEN greatest(attempts - 1, 0) ELSE attempts END,
        last_error = CASE WHEN id = ANY(CAST(:unstarted AS text[])) THEN last_error
                          ELSE 'its worker was interrupted (Ctrl-C twice); given back' END
    WHERE reserved_by = :worker
      AND NOT (id = ANY(CAST(:done AS text[])) AND batch_id IS NULL AND chain IS NULL)
    RETURNING queue
)
SELECT count(*) AS given_back
FROM given_back CROSS JOIN LATERAL (SELECT pg_notify('skiplock', given_back.queue)) AS woken;
-- name: set_lock_timeout
-- Bound a dispatch's wait for a lock on jobs (QUEUE_DISPATCH_LOCK_TIMEOUT, in ms): for the
-- session of a connection of our own, or (:local) for the current transaction only.
SELECT set_config('lock_timeout', :timeout, CAST(:local AS boolean));

-- name: jobs_since_vacuum
-- For the bloat guard (app/queue/vacuum.py): rows inserted into jobs since its last VACUUM (by
-- anyone; the statistics lag a second or so), and whether this role owns jobs (only the owner,
-- or a superuser, may VACUUM it).
SELECT s.n_ins_since_vacuum AS inserted, pg_has_role(c.relowner, 'USAGE') AS may_vacuum
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.relid = 'jobs'::regclass;

-- name: vacuum_jobs
-- Remove the dead rows and index entries finished jobs left. SKIP_LOCKED: if another worker's
-- VACUUM (or autovacuum) holds the table, this one is skipped rather than queued behind it.
VACUUM (SKIP_LOCKED) jobs;
