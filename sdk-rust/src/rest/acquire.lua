-- Takes one request's turn in the REST rate limits of a bot, atomically.
-- ARGV: 1 key prefix of the bot (`{prefix}rest:{bot}:`), 2 route, 3 major parameter,
-- 4 global limit, 5 global window (ms), 6 invalid-request limit, 7 probe timeout (ms),
-- 8 request id (unique), 9 "1" when the global limit applies.
-- Returns {0, bucket key} to go, {1, ms} to wait and ask again, {-1, count} when the
-- invalid requests of the last 10 minutes reached the limit.
local p, route, major = ARGV[1], ARGV[2], ARGV[3]
local glimit, gwin = tonumber(ARGV[4]), tonumber(ARGV[5])
local invalid_limit, probe_ms, id = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

redis.call('ZREMRANGEBYSCORE', p .. 'invalid', '-inf', now - 600000)
local invalid = redis.call('ZCARD', p .. 'invalid')
if invalid >= invalid_limit then
  return {-1, invalid}
end
local held = tonumber(redis.call('GET', p .. 'global-until') or '0')
if held > now then
  return {1, held - now}
end

local bucket = redis.call('GET', p .. 'route:' .. route) or route
local bkey = p .. 'bucket:' .. bucket .. ':' .. major
local state = redis.call('HMGET', bkey, 'remaining', 'reset_at')
local remaining, reset_at = tonumber(state[1]), tonumber(state[2])
local known = remaining ~= nil and reset_at ~= nil and reset_at > now
if known and remaining <= 0 then
  return {1, reset_at - now}
end
if not known then
  -- The bucket's window is unknown (never seen, or over): one request learns it.
  if not redis.call('SET', bkey .. ':probe', id, 'NX', 'PX', probe_ms) then
    return {1, 10}
  end
end

if ARGV[9] == '1' then
  redis.call('ZREMRANGEBYSCORE', p .. 'global', '-inf', now - gwin)
  if redis.call('ZCARD', p .. 'global') >= glimit then
    if not known then
      redis.call('DEL', bkey .. ':probe')
    end
    local oldest = redis.call('ZRANGE', p .. 'global', 0, 0, 'WITHSCORES')
    return {1, math.max(1, tonumber(oldest[2]) + gwin - now)}
  end
  redis.call('ZADD', p .. 'global', now, id)
  redis.call('PEXPIRE', p .. 'global', gwin)
end
if known then
  redis.call('HINCRBY', bkey, 'remaining', -1)
end
return {0, bkey}
