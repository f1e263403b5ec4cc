-- What the supervisors run (SupervisorStore): their tick, the control commands, the status,
-- and the dashboard's history. Rows: `supervisors` (one per running supervisor process and
-- name), `supervisor_processes` (processes per pool per minute).

-- name: tick
-- One statement per tick for every supervisor of a `supervise` process: write each one's
-- heartbeat, state and processes (:rows, a JSON array), record this minute's processes per
-- pool, and read back what the balancer needs — the state each supervisor is asked for
-- (`wanted`, written by supervise:pause/continue/terminate from any host) and, per queue of
-- :queues, its pending jobs (counted up to :cap: past that, only the share between queues
-- matters, and a count of millions costs a scan) and mean runtime over the last 5 minutes.
-- A paused queue counts no pending jobs: no process should move to work nobody may claim.
WITH given AS (
    SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
        id text, name text, host text, pid integer, connection text, state text,
        settings jsonb, processes jsonb)
), beat AS (
    INSERT INTO supervisors AS s (id, name, host, pid, connection, state, settings, processes)
    SELECT id, name, host, pid, connection, state, settings, processes FROM given
    ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, processes = EXCLUDED.processes,
        heartbeat_at = now(), stopped_at = NULL
    RETURNING s.id, s.wanted
), minute AS (
    INSERT INTO supervisor_processes (minute, supervisor, host, pool, processes)
    SELECT date_trunc('minute', now()), given.name, given.host, p.key, p.value::integer
    FROM given, jsonb_each_text(given.processes) AS p
    ON CONFLICT (minute, supervisor, host, pool) DO UPDATE SET processes = EXCLUDED.processes
), runtimes AS (
    SELECT queue, sum(runtime_sum) / nullif(sum(processed + failed), 0) AS mean_runtime
    FROM queue_metrics
    WHERE minute >= date_trunc('minute', now()) - interval '5 minutes'
      AND queue = ANY(CAST(:queues AS text[]))
    GROUP BY queue
)
SELECT 'supervisor' AS kind, id AS key, wanted, NULL::bigint AS pending,
       NULL::double precision AS mean_runtime
FROM beat
UNION ALL
SELECT 'queue', q.queue, NULL,
       CASE WHEN EXISTS (SELECT 1 FROM paused_queues p WHERE p.queue = q.queue) THEN 0
            ELSE (SELECT count(*) FROM (SELECT 1 FROM jobs j
                                        WHERE j.queue = q.queue AND j.reserved_at IS NULL
                                          AND j.available_at <= now()
                                        LIMIT :cap) AS waiting) END,
       runtimes.mean_runtime
FROM unnest(CAST(:queues AS text[])) AS q(queue)
LEFT JOIN runtimes ON runtimes.queue = q.queue;

-- name: stop_supervisors
-- The supervisors of a `supervise` process that is exiting: stopped, no processes.
UPDATE supervisors SET state = 'stopped', processes = jsonb_build_object(), stopped_at = now(),
    heartbeat_at = now()
WHERE id = ANY(CAST(:ids AS text[]));

-- name: forget_old_supervisors
-- Rows of supervisors stopped (or silent) for over a day, and history older than :days days:
-- run when a `supervise` starts and once an hour.
WITH gone AS (
    DELETE FROM supervisors WHERE coalesce(stopped_at, heartbeat_at) < now() - interval '1 day'
)
DELETE FROM supervisor_processes WHERE minute < now() - make_interval(days => :days);

-- name: ask_supervisors
-- supervise:pause/continue/terminate: ask every live supervisor (of :name, when given) for
-- :wanted. A terminate is final; pause and continue do not undo it.
UPDATE supervisors SET wanted = :wanted
WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => :stale)
  AND (CAST(:name AS text) IS NULL OR name = :name)
  AND wanted <> 'terminated'
RETURNING name, host, pid;

-- name: list_supervisors
-- supervise:status and the dashboard: live supervisors, and those stopped or silent in the
-- last hour (their state then says so).
SELECT id, name, host, pid, connection, wanted, settings, processes, started_at,
       heartbeat_at, stopped_at,
       CASE WHEN stopped_at IS NOT NULL THEN 'stopped'
            WHEN heartbeat_at < now() - make_interval(secs => :stale) THEN 'dead'
            ELSE state END AS state,
       extract(epoch FROM now() - heartbeat_at) AS heartbeat_age
FROM supervisors
WHERE stopped_at IS NULL OR stopped_at > now() - interval '1 hour'
ORDER BY name, host, pid;

-- name: process_history
-- The dashboard's chart: processes per supervisor and pool per minute over the last :minutes
-- (summed over hosts).
SELECT minute, supervisor, pool, sum(processes)::integer AS processes
FROM supervisor_processes
WHERE minute >= date_trunc('minute', now()) - make_interval(mins => :minutes)
GROUP BY minute, supervisor, pool
ORDER BY minute, supervisor, pool;
