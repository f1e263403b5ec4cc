-- Record a worker starting. KEYS: workers, the worker's hash. ARGV: id, name, host, pid,
-- queues (JSON), concurrency. Returns its start, in ms of the server's clock.
local now = now_ms()
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'name', ARGV[2], 'host', ARGV[3], 'pid', ARGV[4],
           'queues', ARGV[5], 'concurrency', ARGV[6], 'started_at', now, 'heartbeat_at', now,
           'running', 0, 'processed', 0, 'failed', 0)
redis.call('ZADD', KEYS[1], now, ARGV[1])
return now
