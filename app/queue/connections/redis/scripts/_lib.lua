-- Prepended to every script of this folder by scripts.py (LuaScripts): the steps they share.
-- Every script touches the keys of one queue (its hash tag), or the global {%} slot only.

-- The server's clock in ms: every delay and age is measured on it, never on a client's.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A job's member in ready: equal priorities (the score) sort by availability, then id.
-- Not stored: it is made again from the job's `at` wherever it is needed.
local function rank(at, id)
  return string.format('%015d', at) .. ':' .. id
end

-- Put job `id` (its hash at `job`, of priority `pr`) in ready now, or in delayed until `at`.
-- Returns whether it is ready: the caller wakes the queue's workers once, after all its jobs
-- (one SPUBLISH per script, not one per job of a bulk push).
local function place(ready, delayed, job, id, pr, at, now)
  if at <= now then
    redis.call('HSET', job, 'at', at)
    redis.call('ZADD', ready, pr, rank(at, id))
    return true
  end
  redis.call('HSET', job, 'at', at)
  redis.call('ZADD', delayed, at, id)
  return false
end

-- Wake the queue's workers: jobs became ready.
local function wake(prefix)
  redis.call('SPUBLISH', prefix .. 'wake', '1')
end

-- Free the job's unique lock if it still holds it (an expired lock may be another's now).
local function free_unique(prefix, job, id)
  local key = redis.call('HGET', job, 'uk')
  if key then
    local lock = prefix .. 'unique:' .. key
    if redis.call('GET', lock) == id then redis.call('DEL', lock) end
    redis.call('HDEL', job, 'uk')
  end
end

-- Forget that `worker` reserves job `id`.
local function unreserve(prefix, reserved, job, id, worker)
  redis.call('ZREM', reserved, id)
  redis.call('SREM', prefix .. 'w:' .. worker, id)
  redis.call('SREM', prefix .. 'cancelled', id)
  redis.call('HDEL', job, 'wb', 'wt')
end

-- Give a reserved job back for another claim, available now. `uncount`: it never started,
-- so its attempt does not count. `err`: its last error ('' keeps the one it has). The caller
-- wakes the queue once it has given back all it gives back.
local function give_back(prefix, ready, reserved, job, id, worker, uncount, err, now)
  unreserve(prefix, reserved, job, id, worker)
  local f = redis.call('HMGET', job, 'a', 'pr')
  if uncount then
    redis.call('HSET', job, 'a', math.max((tonumber(f[1]) or 0) - 1, 0))
  end
  if err ~= '' then redis.call('HSET', job, 'e', err) end
  place(ready, prefix .. 'delayed', job, id, tonumber(f[2]) or 0, now, now)
end

-- Move a job (its hash gone after this) to the queue's failed records.
local function record_failure(prefix, job, id, queue, exception, now)
  local f = redis.call('HMGET', job, 'p', 'a', 'pr')
  local record = cjson.encode({id = id, connection = 'redis', queue = queue, payload = f[1],
                               attempts = tonumber(f[2]) or 0, priority = tonumber(f[3]) or 0,
                               exception = exception, failed_at = now})
  redis.call('HSET', prefix .. 'failed', id, record)
  redis.call('ZADD', prefix .. 'failed:order', now, id)
  redis.call('DEL', job)
end
