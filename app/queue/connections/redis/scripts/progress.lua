-- Record a running job's progress. KEYS: the job's hash. ARGV: worker, percent, has message
-- ('1'/'0'), message. Nothing happens if the job is not the worker's.
if redis.call('HGET', KEYS[1], 'wb') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'pg', ARGV[2])
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'pm', ARGV[4])
else redis.call('HDEL', KEYS[1], 'pm') end
return 1
