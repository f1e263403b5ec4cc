-- The long-wait notifier's statements (app/queue/observe/notify.py runs them).

-- name: oldest_waits
-- For each of :queues, how long (seconds) its oldest pending job (due, not reserved) has
-- waited; NULL when none is pending. Only a min() per queue, one range of the partial
-- jobs_claim_idx each, once a minute: no count of the queue's rows (queue:monitor's query
-- counts them all).
SELECT q.queue,
       extract(epoch FROM now() - (SELECT min(j.available_at) FROM jobs j
                                   WHERE j.queue = q.queue AND j.reserved_at IS NULL
                                     AND j.available_at <= now()))::double precision AS wait
FROM unnest(CAST(:queues AS text[])) AS q(queue)

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
