-- Give back jobs a worker holds on this queue. KEYS: ready, reserved. ARGV: prefix, worker,
-- uncount ('1': they never started), error ('' keeps theirs), then the ids.
-- Returns the ids given back (those still the worker's).
local prefix, worker, uncount, err = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4]
local now = now_ms()
local back = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local job = prefix .. 'job:' .. id
  if redis.call('HGET', job, 'wb') == worker then
    give_back(prefix, KEYS[1], KEYS[2], job, id, worker, uncount, err, now)
    back[#back + 1] = id
  end
end
if #back > 0 then wake(prefix) end
return back
