-- Record a worker stopping. KEYS: workers, the worker's hash. ARGV: id, processed, failed,
-- reason.
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local now = now_ms()
redis.call('HSET', KEYS[2], 'stopped_at', now, 'heartbeat_at', now, 'running', 0,
           'processed', ARGV[2], 'failed', ARGV[3], 'exit_reason', ARGV[4])
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1
