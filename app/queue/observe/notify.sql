-- The long-wait notifier's statements (app/queue/observe/notify.py runs them).

-- name: oldest_waits
-- For each of :queues, how long (seconds) its oldest pending job (due, not reserved) has
-- waited; NULL when none is pending. jobs_claim_idx (queue, priority, available_at) holds
-- each priority's oldest first, so the priorities are walked one index lookup at a time (a
-- skip scan) and each gives its oldest in one more: a few lookups per queue, where a plain
-- min(available_at) reads every unreserved row of the queue (200,000 pending: 99 ms).
WITH RECURSIVE queues AS (
    SELECT queue FROM unnest(CAST(:queues AS text[])) AS q(queue)
), priorities AS (
    SELECT q.queue, (SELECT min(j.priority) FROM jobs j
                     WHERE j.queue = q.queue AND j.reserved_at IS NULL) AS priority
    FROM queues q
    UNION ALL
    SELECT p.queue, (SELECT min(j.priority) FROM jobs j
                     WHERE j.queue = p.queue AND j.reserved_at IS NULL
                       AND j.priority > p.priority)
    FROM priorities p
    WHERE p.priority IS NOT NULL
), oldest AS (
    -- The oldest row of the queue, due or not: it is pending only if it is due.
    SELECT p.queue, min(first.available_at) AS available_at
    FROM priorities p
    CROSS JOIN LATERAL (SELECT j.available_at FROM jobs j
                        WHERE j.queue = p.queue AND j.priority = p.priority
                          AND j.reserved_at IS NULL
                        ORDER BY j.available_at LIMIT 1) AS first
    GROUP BY p.queue
)
SELECT q.queue,
       CASE WHEN o.available_at <= now()
            THEN extract(epoch FROM now() - o.available_at)::double precision END AS wait
FROM queues q LEFT JOIN oldest o ON o.queue = q.queue

-- name: claim_notification
-- The queue's notification is ours to send only if this upsert moved notified_at: the WHERE
-- (the last one is older than :cooldown seconds) is decided under the row's lock, so of any
-- number of notifiers at the same moment one gets a row back, the others none.
INSERT INTO queue_notifications (connection, queue, notified_at, wait_seconds, notified_by)
VALUES (:connection, :queue, now(), :wait, :notified_by)
ON CONFLICT (connection, queue) DO UPDATE
SET notified_at = excluded.notified_at, wait_seconds = excluded.wait_seconds,
    notified_by = excluded.notified_by
WHERE queue_notifications.notified_at <= now() - make_interval(secs => :cooldown)
RETURNING queue
