-- What the limits of job middleware run (app/queue/middleware, through LimitStore). A key's
-- decision is one short transaction: lock_limit_key, limit_state, then put_limit if the
-- decision writes. Jobs without middleware never touch job_limits.
-- Times are clock_timestamp(): a decision waits for the key's lock, and now() would be the
-- time the wait began.

-- name: lock_limit_key
-- Serialise the decisions about one key until commit; other keys never wait for it (a hash
-- collision only makes two keys take turns).
SELECT pg_advisory_xact_lock(hashtextextended(:key, 0));

-- name: limit_state
-- Forget what no longer counts for :key (starts and exceptions older than :window seconds,
-- holds whose worker stopped or has not beaten for :retry_after seconds (kill -9, a lost
-- host) or that expired, and marks of jobs that are gone and were due a minute ago), then say
-- what counts now. The rows deleted here are still in this statement's snapshot, hence
-- `live`. `times`: seconds from now to each start or exception (≤ 0, oldest first).
-- `others`: holds of other jobs. `free_in`: seconds until the first of those could end by
-- itself (its expiry, or its worker's heartbeat running out). `waiting_ahead`: jobs held
-- back that are due before :job_id (all of them if it waits for the first time).
WITH forgotten AS (
    DELETE FROM job_limits l
    WHERE l.key = :key AND (
        (l.kind IN ('started', 'exception')
         AND l.at <= clock_timestamp() - make_interval(secs => :window))
     OR (l.kind = 'holding'
         AND (l.expires_at <= clock_timestamp()
              OR NOT ((l.worker_id IS NULL
                       AND l.at > clock_timestamp() - make_interval(secs => :retry_after))
                      OR EXISTS (SELECT 1 FROM workers w
                                 WHERE w.id = l.worker_id AND w.stopped_at IS NULL
                                   AND w.heartbeat_at > clock_timestamp()
                                                        - make_interval(secs => :retry_after)))))
     OR (l.kind IN ('waiting', 'woken') AND l.at < clock_timestamp() - interval '1 minute'
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = l.job_id)))
    RETURNING l.kind, l.job_id
), live AS (
    SELECT l.* FROM job_limits l
    WHERE l.key = :key
      AND NOT EXISTS (SELECT 1 FROM forgotten f WHERE f.kind = l.kind AND f.job_id = l.job_id)
), own AS (
    SELECT at FROM live WHERE kind = 'waiting' AND job_id = :job_id
)
SELECT
    array_agg(EXTRACT(epoch FROM l.at - clock_timestamp())::float8 ORDER BY l.at)
        FILTER (WHERE l.kind IN ('started', 'exception')) AS times,
    count(*) FILTER (WHERE l.kind = 'holding' AND l.job_id <> :job_id) AS others,
    min(EXTRACT(epoch FROM least(
            COALESCE(l.expires_at, 'infinity'),
            COALESCE(w.heartbeat_at, l.at) + make_interval(secs => :retry_after))
        - clock_timestamp())::float8)
        FILTER (WHERE l.kind = 'holding' AND l.job_id <> :job_id) AS free_in,
    count(*) FILTER (WHERE l.kind = 'waiting' AND l.job_id <> :job_id
                     AND l.at < COALESCE((SELECT at FROM own), 'infinity')) AS waiting_ahead
FROM live l
LEFT JOIN workers w ON w.id = l.worker_id;

-- name: put_limit
-- Record a start, a hold, a waiting mark (at: when it is due) or an exception of :job_id,
-- and delete its rows of the kinds in :drop (the waiting mark of a job that now starts).
WITH dropped AS (
    DELETE FROM job_limits
    WHERE key = :key AND job_id = :job_id AND kind = ANY(CAST(:drop AS text[]))
)
INSERT INTO job_limits (key, kind, job_id, at, worker_id, expires_at)
VALUES (:key, :kind, :job_id, clock_timestamp() + make_interval(secs => :in_seconds),
        :worker_id, clock_timestamp() + make_interval(secs => CAST(:expires_in AS float8)))
ON CONFLICT (key, kind, job_id) DO UPDATE
SET at = excluded.at, worker_id = excluded.worker_id, expires_at = excluded.expires_at;

-- name: drop_limits_of_kind
-- ThrottlesExceptions after a success: the exceptions counted so far are forgiven.
DELETE FROM job_limits WHERE key = :key AND kind = :kind;

-- name: free_hold
-- A job ends its hold (under the key's lock, so no decision is half-way), and wakes the job
-- that has waited longest for the key (still queued, not woken already): due now, its queue
-- notified. If that job is still reserved (its worker is about to put it back), its
-- available_at moves past its reserved_at, which release_limited keeps: a wake-up is never
-- lost between the two, whichever commits first (the worker's UPDATE re-reads the row it
-- waited for). The 'woken' mark makes the next free wake another job.
WITH freed AS (
    DELETE FROM job_limits WHERE key = :key AND kind = 'holding' AND job_id = :job_id
), next_waiter AS (
    SELECT l.job_id FROM job_limits l JOIN jobs j ON j.id = l.job_id
    WHERE l.key = :key AND l.kind = 'waiting'
      AND NOT EXISTS (SELECT 1 FROM job_limits x
                      WHERE x.key = l.key AND x.kind = 'woken' AND x.job_id = l.job_id)
    ORDER BY l.at LIMIT 1
), marked AS (
    INSERT INTO job_limits (key, kind, job_id) SELECT :key, 'woken', job_id FROM next_waiter
    ON CONFLICT DO NOTHING
), woken AS (
    UPDATE jobs SET available_at = clock_timestamp()
    WHERE id IN (SELECT job_id FROM next_waiter)
      AND (reserved_at IS NOT NULL OR available_at > now())
    RETURNING queue, reserved_at
)
SELECT pg_notify('skiplock', queue) FROM woken WHERE reserved_at IS NULL;
