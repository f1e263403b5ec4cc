-- A worker's heartbeat. KEYS: workers, the worker's hash, restart. ARGV: id, running,
-- processed, failed. Returns nil if its record is gone, else {presumed dead 0/1, the last
-- restart ms or '', its queues (JSON)}.
if redis.call('EXISTS', KEYS[2]) == 0 then return nil end
local now = now_ms()
local was_stopped = redis.call('HGET', KEYS[2], 'stopped_at')
redis.call('HSET', KEYS[2], 'heartbeat_at', now, 'running', ARGV[2], 'processed', ARGV[3],
           'failed', ARGV[4])
redis.call('HDEL', KEYS[2], 'stopped_at', 'exit_reason')
redis.call('ZADD', KEYS[1], now, ARGV[1])
return {was_stopped and 1 or 0, redis.call('GET', KEYS[3]) or '',
        redis.call('HGET', KEYS[2], 'queues')}
