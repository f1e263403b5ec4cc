-- Give back this queue's jobs whose worker stopped beating. KEYS: ready, reserved. ARGV:
-- prefix, retry_after ms, error, the number of dead workers n, their n ids, then the ids of
-- the live workers. Rescued: every job of a dead worker, and a reservation older than
-- retry_after whose worker is not live (its record is gone). A live worker's jobs never are,
-- however long they run: its heartbeat keeps them. The attempt stays counted.
local prefix, err = ARGV[1], ARGV[3]
local now = now_ms()
local n = tonumber(ARGV[4])
local live = {}
for i = 5 + n, #ARGV do live[ARGV[i]] = true end
local back = {}
local function rescue(id, worker)
  local job = prefix .. 'job:' .. id
  if redis.call('HGET', job, 'wb') == worker then
    give_back(prefix, KEYS[1], KEYS[2], job, id, worker, false, err, now)
    back[#back + 1] = id
  end
end
for i = 5, 4 + n do
  local worker = ARGV[i]
  for _, id in ipairs(redis.call('SMEMBERS', prefix .. 'w:' .. worker)) do rescue(id, worker) end
end
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
for _, id in ipairs(old) do
  local worker = redis.call('HGET', prefix .. 'job:' .. id, 'wb')
  if not worker then redis.call('ZREM', KEYS[2], id)
  elseif not live[worker] then rescue(id, worker) end
end
if #back > 0 then wake(prefix) end
return back
