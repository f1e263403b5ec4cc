-- One worker's claim on one queue, with the acknowledgement of the jobs it finished there.
-- KEYS: ready, delayed, reserved, paused. ARGV: prefix, worker, limit, then the ids done.
-- First the acks (deleted if still this worker's: a worker presumed dead acks nothing), then
-- the due delayed jobs move to ready, then up to `limit` jobs are reserved in ready's order
-- (priority, availability, id). Returns {acked count, id, payload, attempts, waited ms,
-- cancelled 0/1, ...}.
local prefix, worker, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ready, delayed, reserved = KEYS[1], KEYS[2], KEYS[3]
local now = now_ms()
local out = {0}
for i = 4, #ARGV do
  local id = ARGV[i]
  local job = prefix .. 'job:' .. id
  if redis.call('HGET', job, 'wb') == worker then
    free_unique(prefix, job, id)
    unreserve(prefix, reserved, job, id, worker)
    redis.call('DEL', job)
    out[1] = out[1] + 1
  end
end
if limit <= 0 or redis.call('EXISTS', KEYS[4]) == 1 then return out end
-- Bounded, so one claim after a long pause stays short; the next claim moves the rest.
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1000)
for i = 1, #due, 2 do
  local id, at = due[i], tonumber(due[i + 1])
  local job = prefix .. 'job:' .. id
  redis.call('ZREM', delayed, id)
  local pr = redis.call('HGET', job, 'pr')
  if pr then redis.call('ZADD', ready, tonumber(pr), rank(at, id)) end
end
local picked = redis.call('ZRANGE', ready, 0, limit - 1)
local mine = prefix .. 'w:' .. worker
for _, r in ipairs(picked) do
  redis.call('ZREM', ready, r)
  local id = string.sub(r, 17)
  local job = prefix .. 'job:' .. id
  local f = redis.call('HMGET', job, 'p', 'at', 'c', 'us')
  if f[1] then
    local attempts = redis.call('HINCRBY', job, 'a', 1)
    redis.call('HSET', job, 'wb', worker, 'wt', now)
    redis.call('ZADD', reserved, now, id)
    redis.call('SADD', mine, id)
    if f[4] == '1' then free_unique(prefix, job, id) end
    out[#out + 1] = id
    out[#out + 1] = f[1]
    out[#out + 1] = attempts
    out[#out + 1] = now - (tonumber(f[2]) or now)
    out[#out + 1] = f[3] and 1 or 0
  end
end
return out
