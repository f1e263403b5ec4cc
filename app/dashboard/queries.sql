-- What the dashboard reads (and the bulk forgets its failed-jobs page offers) beyond QueueAdmin's
-- statements. Loaded once by app/dashboard/store.py; only DashboardStore executes them.
-- Values are always bound (:name), never formatted in; times come from the database's now().

-- name: jobs_page
-- A page of jobs, newest first (ids are ULIDs: their order is their creation order), of any
-- state or one, of one queue and one class or all, older than :before (keyset: each page is a
-- walk down a primary key from where the last one ended, never an OFFSET). The walk is bounded:
-- each table gives at most :scan rows to filter, so a filter that matches nothing costs
-- :scan rows, not the whole table (1,000,000 jobs: ~1 s unbounded). `searched_to` is the
-- lowest id both walks reached (NULL when they reached the end): the next page starts there
-- when this one holds fewer than :limit matches. One row with a NULL id when none matched.
WITH waiting AS MATERIALIZED (
    SELECT id, queue, payload->>'job' AS job_class,
           CASE WHEN reserved_at IS NOT NULL THEN 'reserved'
                WHEN available_at > now() THEN 'delayed'
                ELSE 'pending' END AS state,
           attempts, progress, created_at AS at
    FROM jobs
    WHERE coalesce(CAST(:state AS text), '') <> 'failed'
      AND (CAST(:before AS text) IS NULL OR id < :before)
    ORDER BY id DESC
    LIMIT :scan
), failed AS MATERIALIZED (
    SELECT id, queue, payload->>'job' AS job_class, 'failed' AS state, attempts,
           CAST(NULL AS real) AS progress, failed_at AS at
    FROM failed_jobs
    WHERE coalesce(CAST(:state AS text), 'failed') = 'failed'
      AND (CAST(:before AS text) IS NULL OR id < :before)
    ORDER BY id DESC
    LIMIT :scan
), searched AS (
    -- A full window stopped short of its table's end: ids below its last were not looked at.
    SELECT greatest((SELECT min(id) FROM waiting HAVING count(*) = :scan),
                    (SELECT min(id) FROM failed HAVING count(*) = :scan)) AS searched_to
)
SELECT page.*, searched.searched_to
FROM searched
LEFT JOIN LATERAL (
    SELECT * FROM (SELECT * FROM waiting UNION ALL SELECT * FROM failed) AS scanned
    WHERE (searched.searched_to IS NULL OR scanned.id >= searched.searched_to)
      AND (CAST(:state AS text) IS NULL OR scanned.state = :state)
      AND (CAST(:queue AS text) IS NULL OR scanned.queue = :queue)
      AND (CAST(:job_class AS text) IS NULL OR scanned.job_class = :job_class)
    ORDER BY scanned.id DESC
    LIMIT :limit
) AS page ON true
ORDER BY page.id DESC;

-- name: job_payload
-- The stored payload of a job wherever it is (a job is in one table at a time), and the batch
-- it belongs to.
SELECT payload, batch_id FROM jobs WHERE id = :id
UNION ALL
SELECT payload, batch_id FROM failed_jobs WHERE id = :id
LIMIT 1;

-- name: failed_page
-- A page of the failed-jobs page, newest first, of :queue and of :job_class (all when NULL),
-- after the row :after (keyset). Walks failed_jobs_failed_at_idx backwards (or
-- failed_jobs_queue_failed_at_idx with a queue), reading payloads to filter by class: with
-- 100,000 failed jobs a common class's page takes 5 ms, a class with none reads them all,
-- 38 ms (median of 7, DashboardStore.failed, shared 2-vCPU machine at load average 10).
SELECT id, queue, payload->>'job' AS job_class, attempts, exception, failed_at
FROM failed_jobs
WHERE (CAST(:queue AS text) IS NULL OR queue = :queue)
  AND (CAST(:job_class AS text) IS NULL OR payload->>'job' = :job_class)
  AND (CAST(:after AS text) IS NULL
       OR (failed_at, id) < (SELECT failed_at, id FROM failed_jobs WHERE id = :after))
ORDER BY failed_at DESC, id DESC
LIMIT :limit;

-- name: is_failed_job
-- Whether :id is in failed_jobs (a cursor of the failed-jobs page that names none is a 404).
SELECT EXISTS (SELECT FROM failed_jobs WHERE id = :id) AS found;

-- name: failed_ids_matching
-- The failed-jobs page's "retry all matching": the ids of every failed job of :queue and
-- :job_class (all when NULL) that failed before :before (when the page was shown), oldest
-- first, for QueueAdmin.retry (which moves them back a thousand per transaction).
SELECT id FROM failed_jobs
WHERE (CAST(:queue AS text) IS NULL OR queue = :queue)
  AND (CAST(:job_class AS text) IS NULL OR payload->>'job' = :job_class)
  AND failed_at <= CAST(:before AS timestamptz)
ORDER BY failed_at, id;

-- name: forget_failed_jobs
-- The failed-jobs page's "forget selected".
DELETE FROM failed_jobs WHERE id = ANY(CAST(:ids AS text[])) RETURNING id;

-- name: forget_failed_matching
-- The failed-jobs page's "forget all matching": every failed job of :queue (all when NULL)
-- that failed before :before (when the page was shown: a job failing since is not one the
-- user saw), of :job_class (all when NULL).
WITH deleted AS (
    DELETE FROM failed_jobs
    WHERE (CAST(:queue AS text) IS NULL OR queue = :queue)
      AND (CAST(:job_class AS text) IS NULL OR payload->>'job' = :job_class)
      AND failed_at <= CAST(:before AS timestamptz)
    RETURNING 1
)
SELECT count(*) AS deleted FROM deleted;

-- name: worker_totals
-- Live workers (no stop, a heartbeat within :retry_after seconds) and what all workers in the
-- table processed and failed (a counter that drops when old worker rows are pruned).
SELECT count(*) FILTER (WHERE stopped_at IS NULL
                          AND heartbeat_at >= now() - make_interval(secs => :retry_after))
           AS live,
       coalesce(sum(processed), 0)::bigint AS processed,
       coalesce(sum(failed), 0)::bigint AS failed
FROM workers;

-- name: metrics_history
-- Per minute of the last :minutes minutes (every minute present, zero when idle, so a chart's
-- x axis has no holes): attempts finished and failed, mean and max runtime and wait, of one
-- queue or all and of one job class or all. Reads queue_metrics through its primary key's
-- leading minute.
WITH minutes AS (
    SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => :minutes - 1),
                           date_trunc('minute', now()), interval '1 minute') AS minute
), sums AS (
    SELECT minute, sum(processed) AS processed, sum(failed) AS failed,
           sum(runtime_sum) AS runtime_sum, max(runtime_max) AS runtime_max,
           sum(wait_sum) AS wait_sum, max(wait_max) AS wait_max
    FROM queue_metrics
    WHERE minute >= date_trunc('minute', now()) - make_interval(mins => :minutes - 1)
      AND (CAST(:queue AS text) IS NULL OR queue = :queue)
      AND (CAST(:job_class AS text) IS NULL OR job_class = :job_class)
    GROUP BY minute
)
SELECT extract(epoch FROM m.minute)::bigint AS minute,
       coalesce(s.processed, 0)::bigint AS processed,
       coalesce(s.failed, 0)::bigint AS failed,
       (s.runtime_sum / nullif(s.processed, 0))::double precision AS runtime_avg,
       s.runtime_max::double precision AS runtime_max,
       (s.wait_sum / nullif(s.processed, 0))::double precision AS wait_avg,
       s.wait_max::double precision AS wait_max
FROM minutes m LEFT JOIN sums s ON s.minute = m.minute
ORDER BY m.minute;

-- name: metrics_by
-- Per job class (:by = 'class', every queue's attempts of it together) or per queue
-- (:by = 'queue'), over the current minute and the :minutes - 1 before it: attempts finished
-- and failed, mean and max runtime and wait; busiest first. The Metrics page and
-- GET /api/metrics. One range of queue_metrics' primary key (its leading minute).
WITH recent AS (
    SELECT CASE WHEN CAST(:by AS text) = 'class' THEN job_class ELSE queue END AS name,
           processed, failed, runtime_sum, runtime_max, wait_sum, wait_max
    FROM queue_metrics
    WHERE minute >= date_trunc('minute', now()) - make_interval(mins => :minutes - 1)
)
SELECT name, sum(processed)::bigint AS processed, sum(failed)::bigint AS failed,
       (sum(runtime_sum) / nullif(sum(processed), 0))::double precision AS runtime_avg,
       max(runtime_max)::double precision AS runtime_max,
       (sum(wait_sum) / nullif(sum(processed), 0))::double precision AS wait_avg,
       max(wait_max)::double precision AS wait_max
FROM recent
GROUP BY name
ORDER BY processed DESC, name;

-- name: class_metrics
-- Per (queue, job class) over the current minute and the :minutes - 1 before it, for
-- /metrics' `class` label: the :series busiest pairs each in a row, and the attempts of every
-- other class summed per queue in one row whose job_class is NULL. However many classes
-- there are, at most :series rows plus one per queue.
WITH per_class AS (
    SELECT queue, job_class, sum(processed) AS processed, sum(failed) AS failed,
           sum(runtime_sum) AS runtime_sum, max(runtime_max) AS runtime_max,
           sum(wait_sum) AS wait_sum, max(wait_max) AS wait_max
    FROM queue_metrics
    WHERE minute >= date_trunc('minute', now()) - make_interval(mins => :minutes - 1)
    GROUP BY queue, job_class
), ranked AS (
    SELECT *, row_number() OVER (ORDER BY processed DESC, queue, job_class) <= :series AS kept
    FROM per_class
)
SELECT queue, CASE WHEN kept THEN job_class END AS job_class,
       sum(processed)::bigint AS processed, sum(failed)::bigint AS failed,
       (sum(runtime_sum) / nullif(sum(processed), 0))::double precision AS runtime_avg,
       max(runtime_max)::double precision AS runtime_max,
       (sum(wait_sum) / nullif(sum(processed), 0))::double precision AS wait_avg,
       max(wait_max)::double precision AS wait_max
FROM ranked
GROUP BY queue, CASE WHEN kept THEN job_class END
ORDER BY queue, job_class NULLS LAST;

-- name: batches_page
-- A page of batches, newest first (ids are ULIDs), older than :before (keyset on the primary
-- key, as jobs_page: the same cost on page 1 and page 1,000). Read straight from job_batches,
-- whose counters the workers keep in the transaction of each member job's outcome.
SELECT id, name, total_jobs, pending_jobs, failed_jobs, created_at, cancelled_at, finished_at,
       CAST(NULL AS text[]) AS failed_job_ids
FROM job_batches
WHERE CAST(:before AS text) IS NULL OR id < :before
ORDER BY id DESC
LIMIT :limit;

-- name: batch
-- One batch, with the ids of its first :failed_ids failed jobs (the array grows with every
-- failure: a page links to some, the API's caller pages through failed jobs by batch).
SELECT id, name, total_jobs, pending_jobs, failed_jobs, created_at, cancelled_at, finished_at,
       failed_job_ids[1:CAST(:failed_ids AS integer)] AS failed_job_ids
FROM job_batches
WHERE id = :id;

-- name: recent_metrics
-- Per queue, over the current minute and the :minutes - 1 before it: attempts finished and
-- failed, mean and max runtime and wait, and the runtime and wait bucket counts summed
-- element-wise (what /metrics exposes: a window's figures, from queue_metrics' per-minute rows).
WITH recent AS (
    SELECT * FROM queue_metrics
    WHERE minute >= date_trunc('minute', now()) - make_interval(mins => :minutes - 1)
),
buckets AS (
    -- Both arrays have one element per bucket (or are both empty): summed side by side.
    SELECT queue, array_agg(runtime ORDER BY n) AS runtime, array_agg(wait ORDER BY n) AS wait
    FROM (SELECT queue, n, sum(rv)::bigint AS runtime, sum(wv)::bigint AS wait
          FROM recent
          CROSS JOIN LATERAL unnest(runtime_buckets, wait_buckets) WITH ORDINALITY AS b(rv, wv, n)
          GROUP BY queue, n) AS per_bucket
    GROUP BY queue
)
SELECT r.queue, sum(processed)::bigint AS processed, sum(failed)::bigint AS failed,
       (sum(runtime_sum) / nullif(sum(processed), 0))::double precision AS runtime_avg,
       max(runtime_max)::double precision AS runtime_max,
       (sum(wait_sum) / nullif(sum(processed), 0))::double precision AS wait_avg,
       max(wait_max)::double precision AS wait_max,
       sum(runtime_sum)::double precision AS runtime_total,
       sum(wait_sum)::double precision AS wait_total,
       b.runtime AS runtime_buckets, b.wait AS wait_buckets
FROM recent r LEFT JOIN buckets b ON b.queue = r.queue
GROUP BY r.queue, b.runtime, b.wait
ORDER BY r.queue;

-- name: open_session
-- A login: the session id's hash, valid for :hours hours. Sessions past their time are pruned
-- here (logins are rare; no request pays for it).
WITH pruned AS (DELETE FROM dashboard_sessions WHERE expires_at < now())
INSERT INTO dashboard_sessions (id_hash, expires_at)
VALUES (:id_hash, now() + make_interval(hours => :hours));

-- name: session_is_live
-- Whether a session cookie still opens the dashboard: logged in, not logged out, not expired.
-- A primary-key lookup, once per request that comes with a session.
SELECT EXISTS (SELECT FROM dashboard_sessions
               WHERE id_hash = :id_hash AND expires_at > now()) AS live;

-- name: close_session
-- A logout: the session is gone, whoever holds a copy of its cookie.
DELETE FROM dashboard_sessions WHERE id_hash = :id_hash;

-- name: classes_named
-- What a class filter without a dot stands for: the job classes whose last dotted part is
-- :short_name among the newest :scan jobs and the newest :scan failed jobs (the rows a page of
-- jobs looks at), so that ?class=TranscodeVideo finds app.jobs.video.TranscodeVideo. Two
-- primary-key walks of :scan rows each, read only when a filter names a short class.
SELECT DISTINCT job_class FROM (
    (SELECT payload->>'job' AS job_class FROM jobs ORDER BY id DESC LIMIT :scan)
    UNION ALL
    (SELECT payload->>'job' FROM failed_jobs ORDER BY id DESC LIMIT :scan)
) AS recent
WHERE right(job_class, length(:short_name) + 1) = '.' || :short_name
ORDER BY job_class
LIMIT 10;
