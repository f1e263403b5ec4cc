-- Every statement queue:bench runs besides the queue's own (dispatch, pause, resume). Loaded by
-- app/bench/store.py; only BenchStore executes them. Each touches the scratch queue's rows (or
-- its workers, named after it) and nothing else.

-- name: count_queue
-- Rows of the scratch queue, whatever their state: enqueue checks, and the drain's end.
SELECT count(*) FROM jobs WHERE queue = :queue;

-- name: pending_measured
-- Measured (priority 0) rows not yet acknowledged. Written as two counts so each one walks a
-- partial index (jobs_claim_idx for waiting rows, jobs_reserved_by_idx for reserved ones):
-- with a million backlog rows behind them, a plain count would scan the table at every poll
-- and tax the server the workers are being measured on.
SELECT (SELECT count(*) FROM jobs
        WHERE queue = :queue AND priority = 0 AND reserved_at IS NULL)
     + (SELECT count(*) FROM jobs
        WHERE queue = :queue AND priority = 0 AND reserved_at IS NOT NULL);

-- name: count_failed
SELECT count(*) FROM failed_jobs WHERE queue = :queue;

-- name: worker_totals
-- The bench's worker processes (queue:work --name <scratch queue>): how many registered, how
-- many have stopped, and what they processed (stop_worker writes the final count at exit).
SELECT count(*) AS registered,
       count(*) FILTER (WHERE stopped_at IS NOT NULL) AS stopped,
       COALESCE(sum(processed), 0) AS processed,
       COALESCE(sum(failed), 0) AS failed
FROM workers WHERE name = :name;

-- name: listening
-- Worker listeners connected since :since that have issued their LISTEN: once there is one
-- per bench worker, the workers are ready for a GO.
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database()
  AND application_name = 'skiplock-listener'
  AND backend_start >= :since
  AND query ILIKE 'LISTEN%';

-- name: now
SELECT now();

-- name: insert_backlog
-- Backlog rows generated in the server (a million rows in seconds, no Python loop): valid
-- BenchNoop payloads at priority 1, so they wait behind the measured priority-0 jobs in the
-- claim index. Ids are 26 characters like ULIDs, unique per scratch queue by :prefix.
INSERT INTO jobs (id, queue, payload, priority)
SELECT :prefix || lpad(to_hex(g), 16, '0'), :queue, CAST(:payload AS jsonb), 1
FROM generate_series(1, :rows) AS g;

-- name: delete_jobs
DELETE FROM jobs WHERE queue = :queue;

-- name: delete_failed
DELETE FROM failed_jobs WHERE queue = :queue;

-- name: delete_workers
DELETE FROM workers WHERE name = :name;

-- name: delete_batches
-- The bench's batches are named after its scratch queue.
DELETE FROM job_batches WHERE name = :queue;

-- name: delete_paused
DELETE FROM paused_queues WHERE queue = :queue;

-- name: vacuum_jobs
-- Before each window, as the peers' harness starts each run on fresh tables: the rows an
-- earlier figure deleted leave dead entries at the front of jobs_claim_idx that the first
-- claims would otherwise walk; ANALYZE gives the planner the pre-filled table's statistics.
VACUUM (ANALYZE) jobs;

-- name: checkpoint
CHECKPOINT;

-- name: server
SELECT current_setting('server_version') AS version,
       current_setting('synchronous_commit') AS synchronous_commit,
       current_setting('fsync') AS fsync;

-- name: delete_limits
-- The rate limit of the scratch queue's RateLimited figure (its key is the queue's name).
DELETE FROM job_limits WHERE key = 'rate:' || :queue;

-- name: jobs_bloat
-- What churn leaves behind when nothing vacuums: dead row versions in jobs (the statistics
-- collector's count, a second or so behind), and the size of the table and of the claim index.
SELECT s.n_dead_tup AS dead_rows,
       pg_relation_size('jobs') / 8192 AS heap_pages,
       pg_relation_size('jobs_claim_idx') / 8192 AS claim_index_pages
FROM pg_stat_user_tables s WHERE s.relid = 'jobs'::regclass;

-- name: claim_probe
-- The pages one claim of the scratch queue reads (the claim's locking walk of jobs_claim_idx,
-- without taking anything): EXPLAIN ANALYZE's buffer count. Index entries of rows the claim
-- reserved or deleted stay until a vacuum, and each claim steps over them.
EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
SELECT id FROM jobs
WHERE queue = :queue AND reserved_at IS NULL AND available_at <= now()
ORDER BY priority, available_at, id LIMIT 10 FOR UPDATE SKIP LOCKED;
