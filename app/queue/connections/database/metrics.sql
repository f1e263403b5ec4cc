-- The per-minute aggregates behind the dashboard's charts (table queue_metrics, migration 0004).
-- Loaded once by app/queue/metrics.py; only MetricsStore executes them.

-- name: add_metrics
-- Add one flush's counts: the arrays hold one element per (minute, queue, class). ON CONFLICT
-- adds to the row another worker (or an earlier flush) wrote for the same minute; one statement
-- for the whole flush, so a flush is one round trip whatever it holds.
INSERT INTO queue_metrics AS m (minute, queue, job_class, processed, failed,
                                runtime_sum, runtime_max, wait_sum, wait_max,
                                runtime_buckets, wait_buckets)
SELECT minute, queue, job_class, processed, failed, runtime_sum, runtime_max, wait_sum,
       wait_max, CAST(runtime_buckets AS bigint[]), CAST(wait_buckets AS bigint[])
FROM unnest(CAST(:minutes AS timestamptz[]), CAST(:queues AS text[]),
            CAST(:classes AS text[]), CAST(:processed AS bigint[]),
            CAST(:failed AS bigint[]), CAST(:runtime_sums AS float8[]),
            CAST(:runtime_maxes AS float8[]), CAST(:wait_sums AS float8[]),
            CAST(:wait_maxes AS float8[]), CAST(:runtime_buckets AS text[]),
            CAST(:wait_buckets AS text[]))
     AS u(minute, queue, job_class, processed, failed, runtime_sum, runtime_max, wait_sum,
          wait_max, runtime_buckets, wait_buckets)
ORDER BY 1, 2, 3  -- one lock order for every flush: two workers never deadlock on two rows
ON CONFLICT (minute, queue, job_class) DO UPDATE
SET processed = m.processed + EXCLUDED.processed,
    failed = m.failed + EXCLUDED.failed,
    runtime_sum = m.runtime_sum + EXCLUDED.runtime_sum,
    runtime_max = greatest(m.runtime_max, EXCLUDED.runtime_max),
    wait_sum = m.wait_sum + EXCLUDED.wait_sum,
    wait_max = greatest(m.wait_max, EXCLUDED.wait_max),
    -- Element-wise sums; a row from before migration 0007 holds an empty array (its missing
    -- elements count 0).
    runtime_buckets = (SELECT array_agg(COALESCE(a, 0) + COALESCE(b, 0) ORDER BY n)
                       FROM unnest(m.runtime_buckets, EXCLUDED.runtime_buckets)
                            WITH ORDINALITY AS t(a, b, n)),
    wait_buckets = (SELECT array_agg(COALESCE(a, 0) + COALESCE(b, 0) ORDER BY n)
                    FROM unnest(m.wait_buckets, EXCLUDED.wait_buckets)
                         WITH ORDINALITY AS t(a, b, n));

-- name: prune_metrics
-- Forget minutes older than :days days (QUEUE_METRICS_DAYS).
DELETE FROM queue_metrics WHERE minute < now() - make_interval(days => :days);
