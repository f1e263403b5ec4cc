-- Forget workers stopped more than a day ago. KEYS: workers. ARGV: the global prefix.
local day_ago = now_ms() - 86400000
local pruned = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', day_ago)) do
  local record = ARGV[1] .. 'worker:' .. id
  local stopped = tonumber(redis.call('HGET', record, 'stopped_at'))
  if stopped == nil and redis.call('EXISTS', record) == 0 or stopped and stopped < day_ago then
    redis.call('DEL', record)
    redis.call('ZREM', KEYS[1], id)
    pruned = pruned + 1
  end
end
return pruned
