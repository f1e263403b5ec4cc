-- Cancel one job of this queue. KEYS: ready, delayed. ARGV: prefix, id, queue, exception.
-- A waiting job becomes a failed record at once ('removed'); a reserved one is marked, and
-- its worker told on the queue's cancel channel ('stopping'); 'finished': it failed already;
-- nil: no job of this queue has the id.
local prefix, id = ARGV[1], ARGV[2]
local job = prefix .. 'job:' .. id
if redis.call('EXISTS', job) == 0 then
  if redis.call('HEXISTS', prefix .. 'failed', id) == 1 then return 'finished' end
  return nil
end
local now = now_ms()
local worker = redis.call('HGET', job, 'wb')
if worker then
  if not redis.call('HGET', job, 'c') then redis.call('HSET', job, 'c', now) end
  redis.call('SADD', prefix .. 'cancelled', id)
  redis.call('SPUBLISH', prefix .. 'cancel', worker .. ' ' .. id)
  return 'stopping'
end
local at = redis.call('HGET', job, 'at')
if at then redis.call('ZREM', KEYS[1], rank(tonumber(at), id)) end
redis.call('ZREM', KEYS[2], id)
free_unique(prefix, job, id)
record_failure(prefix, job, id, ARGV[3], ARGV[4], now)
return 'removed'
