-- Move a reserved job to the queue's failed records. KEYS: reserved. ARGV: prefix, worker,
-- id, queue, exception. Returns nil if the job is not the worker's, else 1.
local prefix, worker, id = ARGV[1], ARGV[2], ARGV[3]
local job = prefix .. 'job:' .. id
if redis.call('HGET', job, 'wb') ~= worker then return nil end
free_unique(prefix, job, id)
unreserve(prefix, KEYS[1], job, id, worker)
record_failure(prefix, job, id, ARGV[4], ARGV[5], now_ms())
return 1
