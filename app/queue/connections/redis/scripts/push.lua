-- Push jobs onto one queue. KEYS: ready, delayed. ARGV: prefix, the form, then the jobs.
-- Form 'plain' (dispatch_many: available now, no lock): three values a job, id, payload,
-- priority. Form 'full': eight, id, payload, priority, delay ms ('' when run_at is given),
-- run_at ms ('' or the ms), unique key ('' none), unique ms, unique at start ('1'/'0').
-- Returns the ids pushed (a job whose unique lock is held is not).
local prefix, ready, delayed = ARGV[1], KEYS[1], KEYS[2]
local now = now_ms()
local pushed, woken = {}, false
if ARGV[2] == 'plain' then
  for i = 3, #ARGV, 3 do
    local id = ARGV[i]
    local job = prefix .. 'job:' .. id
    -- No attempts field: HINCRBY at the claim starts it from 0.
    redis.call('HSET', job, 'p', ARGV[i + 1], 'pr', ARGV[i + 2], 'at', now)
    redis.call('ZADD', ready, ARGV[i + 2], rank(now, id))
    pushed[#pushed + 1] = id
  end
  if #pushed > 0 then wake(prefix) end
  return pushed
end
for i = 3, #ARGV, 8 do
  local id, payload, priority = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local at = now + tonumber(ARGV[i + 3] ~= '' and ARGV[i + 3] or '0')
  if ARGV[i + 4] ~= '' then at = tonumber(ARGV[i + 4]) end
  local key, free = ARGV[i + 5], true
  if key ~= '' then
    free = redis.call('SET', prefix .. 'unique:' .. key, id, 'NX', 'PX',
                      math.max(tonumber(ARGV[i + 6]), 1))
  end
  if free then
    local job = prefix .. 'job:' .. id
    redis.call('HSET', job, 'p', payload, 'pr', priority)
    if key ~= '' then redis.call('HSET', job, 'uk', key, 'us', ARGV[i + 7]) end
    if place(ready, delayed, job, id, tonumber(priority), at, now) then woken = true end
    pushed[#pushed + 1] = id
  end
end
if woken then wake(prefix) end
return pushed
