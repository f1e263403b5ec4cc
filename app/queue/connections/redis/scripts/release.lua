-- Put a reserved job back for another attempt. KEYS: ready, delayed, reserved. ARGV: prefix,
-- worker, id, delay ms, uncount ('1': a limit held it back, its attempt does not count),
-- has error ('1'/'0'), error. Returns nil if the job is not the worker's, else 1 if it is
-- due now, 0 if delayed.
local prefix, worker, id = ARGV[1], ARGV[2], ARGV[3]
local job = prefix .. 'job:' .. id
if redis.call('HGET', job, 'wb') ~= worker then return nil end
local now = now_ms()
unreserve(prefix, KEYS[3], job, id, worker)
if ARGV[5] == '1' then
  local attempts = tonumber(redis.call('HGET', job, 'a')) or 0
  redis.call('HSET', job, 'a', math.max(attempts - 1, 0))
end
if ARGV[6] == '1' then redis.call('HSET', job, 'e', ARGV[7])
elseif ARGV[5] ~= '1' then redis.call('HDEL', job, 'e') end
local at = now + tonumber(ARGV[4])
if place(KEYS[1], KEYS[2], job, id, tonumber(redis.call('HGET', job, 'pr')), at, now) then
  wake(prefix)
  return 1
end
return 0
