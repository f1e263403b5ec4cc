-- The scheduler's statements (app/queue/schedule/store.py runs them).

-- name: now
-- The database's clock: every scheduler on every host reads the same time.
SELECT statement_timestamp() AS now

-- name: lock_task
-- Serialises the claims of one task across schedulers (held until the claim commits), so the
-- overlap check and the claim that follows it are one step.
SELECT pg_advisory_xact_lock(hashtext('skiplock:schedule:' || :task))

-- name: claim_run
-- The run is ours only if no scheduler has claimed it: the primary key decides.
INSERT INTO schedule_runs (task, due_at, claimed_by)
VALUES (:task, :due_at, :claimed_by)
ON CONFLICT DO NOTHING
RETURNING task

-- name: set_run_job
UPDATE schedule_runs SET job_id = :job_id WHERE task = :task AND due_at = :due_at

-- name: finish_run
UPDATE schedule_runs SET finished_at = statement_timestamp(), exit_code = :exit_code
WHERE task = :task AND due_at = :due_at

-- name: last_run_busy
-- Is the task's last run still pending or running? A job run: its job is still in `jobs`
-- (waiting, reserved or retrying). A command run: not finished, and claimed recently enough
-- (a scheduler killed while its command ran never records the end).
SELECT EXISTS (
    SELECT 1
    FROM (SELECT job_id, finished_at, claimed_at FROM schedule_runs
          WHERE task = :task ORDER BY due_at DESC LIMIT 1) AS last
    WHERE (last.job_id IS NOT NULL AND EXISTS (SELECT 1 FROM jobs WHERE id = last.job_id))
       OR (last.job_id IS NULL AND last.finished_at IS NULL
           AND last.claimed_at > statement_timestamp() - make_interval(secs => :expires))
) AS busy

-- name: last_runs
SELECT DISTINCT ON (task) task, due_at, claimed_by, job_id, finished_at, exit_code
FROM schedule_runs
WHERE task = ANY(CAST(:tasks AS text[]))
ORDER BY task, due_at DESC

-- name: prune_runs
-- Runs a day older than the tick's now, keeping each task's last (schedule:list shows it).
-- `now` is the scheduler's clock, not statement_timestamp(): a scheduler given a time must
-- prune by the same time its window uses, or it prunes runs it then claims again.
DELETE FROM schedule_runs AS old
WHERE old.due_at < CAST(:now AS timestamptz) - interval '1 day'
  AND EXISTS (SELECT 1 FROM schedule_runs AS newer
              WHERE newer.task = old.task AND newer.due_at > old.due_at)
