-- Which workers are silent. KEYS: workers. ARGV: the global prefix, retry_after ms.
-- Marks each silent one stopped ('no heartbeat', at its last beat) and returns
-- {the silent ids, the live ids}: the per-queue rescue gives their jobs back.
local now = now_ms()
local cutoff = now - tonumber(ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. cutoff)
for _, id in ipairs(dead) do
  local record = ARGV[1] .. 'worker:' .. id
  if redis.call('EXISTS', record) == 1 and not redis.call('HGET', record, 'stopped_at') then
    redis.call('HSET', record, 'stopped_at', redis.call('HGET', record, 'heartbeat_at'),
               'exit_reason', 'no heartbeat')
  end
end
return {dead, redis.call('ZRANGEBYSCORE', KEYS[1], cutoff, '+inf')}
