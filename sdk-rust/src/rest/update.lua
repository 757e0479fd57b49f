-- Records one response in the REST rate limits of a bot, atomically.
-- ARGV: 1 key prefix of the bot, 2 route, 3 major parameter, 4 the bucket key the request
-- went under, 5 HTTP status, 6 X-RateLimit-Bucket ('' when absent), 7 X-RateLimit-Limit,
-- 8 X-RateLimit-Remaining, 9 X-RateLimit-Reset-After (ms), 10 retry_after of a 429 (ms),
-- 11 X-RateLimit-Scope ('' when absent), 12 request id, 13 "1" when the 429 is global.
-- Returns the invalid requests of the last 10 minutes.
local p, route, major, used = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local status = tonumber(ARGV[5])
local bucket, limit, remaining = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
local reset_after, retry_after = tonumber(ARGV[9]), tonumber(ARGV[10])
local scope, id, global = ARGV[11], ARGV[12], ARGV[13] == '1'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

redis.call('DEL', used .. ':probe')
if status == 401 or status == 403 or (status == 429 and scope ~= 'shared') then
  redis.call('ZADD', p .. 'invalid', now, id)
  redis.call('PEXPIRE', p .. 'invalid', 600000)
end
if status == 429 and global then
  redis.call('SET', p .. 'global-until', now + retry_after, 'PX', math.max(1, retry_after))
end

local bkey = used
if bucket ~= '' then
  redis.call('SET', p .. 'route:' .. route, bucket, 'EX', 86400)
  bkey = p .. 'bucket:' .. bucket .. ':' .. major
  redis.call('DEL', bkey .. ':probe')
end
if limit ~= nil and remaining ~= nil and reset_after ~= nil then
  local reset_at = now + reset_after
  local state = redis.call('HMGET', bkey, 'remaining', 'reset_at')
  local cur, cur_reset = tonumber(state[1]), tonumber(state[2])
  if cur ~= nil and cur_reset ~= nil and cur_reset > now then
    -- The same window: keep the more careful of what this process and Discord counted.
    remaining = math.min(cur, remaining)
    reset_at = math.max(cur_reset, reset_at)
  end
  if status == 429 and not global then
    remaining = 0
    reset_at = math.max(reset_at, now + retry_after)
  end
  redis.call('HSET', bkey, 'limit', limit, 'remaining', remaining, 'reset_at', reset_at)
  redis.call('PEXPIRE', bkey, reset_at - now + 60000)
elseif status == 429 and not global then
  redis.call('HSET', bkey, 'remaining', 0, 'reset_at', now + retry_after)
  redis.call('PEXPIRE', bkey, retry_after + 60000)
end
return redis.call('ZCARD', p .. 'invalid')
