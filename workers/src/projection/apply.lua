-- Applies one dispatch to the cache atomically, if it is the next one of its shard's session.
-- KEYS[1] = shard:<s> hash, KEYS[2] = shard:<s>:sessions list
-- KEYS[3] (optional) = the lease hash that fences the write (ddiscord::coord::Fence::key)
-- ARGV[1] = session ('' when unknown), ARGV[2] = sequence, ARGV[3] = kind ('R' READY,
-- 'E' dispatch, 'N' no guard; a trailing '!' accepts a gap in the sequence), ARGV[4] = key
-- prefix, ARGV[5] = shard, ARGV[6] = fencing token ('' without KEYS[3]), ARGV[7..] = ops.
-- GUILD_SUFFIXES is prepended by the worker from ddiscord::cache::keys::GUILD_SUFFIXES.
-- Returns 1 when applied, 0 when skipped as a duplicate or a replaced session's event, 2 when
-- not applied because an earlier sequence of the session is missing (a gap: the caller holds
-- the event and offers it again once the gap is filled).
-- Dispatch sequences are contiguous within a session
-- (https://discord.com/developers/docs/events/gateway#sending-heartbeats), so an event whose
-- sequence is not the next one means an earlier one has not arrived yet.
local shard_key, sessions_key = KEYS[1], KEYS[2]
local session, seq, kind = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local P, shard = ARGV[4], ARGV[5]
local SESSIONS_KEPT = 64
local force = string.sub(kind, 2, 2) == '!'
kind = string.sub(kind, 1, 1)

if KEYS[3] and redis.call('HGET', KEYS[3], 'token') ~= ARGV[6] then
  return redis.error_reply('DDFENCED lease token ' .. ARGV[6] .. ' is no longer current')
end

if kind ~= 'N' then
  local cur = redis.call('HGET', shard_key, 'session')
  local curseq = tonumber(redis.call('HGET', shard_key, 'seq') or '0')
  local function retired(s)
    return redis.call('LPOS', sessions_key, s) ~= false
  end
  local function replace_session()
    if cur then
      redis.call('LPUSH', sessions_key, cur)
      redis.call('LTRIM', sessions_key, 0, SESSIONS_KEPT - 1)
    end
    redis.call('HSET', shard_key, 'session', session)
  end
  if session == '' then
    if seq <= curseq then return 0 end
  elseif session == cur then
    if seq <= curseq then return 0 end
    if seq > curseq + 1 and not force then return 2 end
  elseif retired(session) then
    return 0
  else
    -- A session not seen before starts at its READY (sequence 1); anything else first means
    -- its READY (or what followed) has not arrived yet.
    if kind ~= 'R' and seq > 1 and not force then return 2 end
    replace_session()
    if kind == 'R' then redis.call('HINCRBY', shard_key, 'gen', 1) end
  end
  redis.call('HSET', shard_key, 'seq', seq)
end

local function guild_key(g) return P .. 'guild:' .. g end
local function messages_key(c) return P .. 'channel:' .. c .. ':messages' end
local function message_key(c, m) return P .. 'channel:' .. c .. ':message:' .. m end
local shard_guilds = P .. 'shard:' .. shard .. ':guilds'
local channel_guild = P .. 'channel-guild'
local CHUNK = 500

local function del_messages(c)
  local ids = redis.call('LRANGE', messages_key(c), 0, -1)
  for _, m in ipairs(ids) do redis.call('DEL', message_key(c, m)) end
  redis.call('DEL', messages_key(c))
end

local function del_channel(g, c, keep_messages)
  redis.call('HDEL', guild_key(g) .. ':channels', c)
  if redis.call('HGET', channel_guild, c) == g then redis.call('HDEL', channel_guild, c) end
  redis.call('DEL', guild_key(g) .. ':thread:' .. c .. ':members')
  redis.call('HDEL', guild_key(g) .. ':thread_index', c)
  if not keep_messages then del_messages(c) end
end

local function del_guild(g, keep_messages)
  local gk = guild_key(g)
  local chans = redis.call('HKEYS', gk .. ':channels')
  for _, c in ipairs(chans) do del_channel(g, c, keep_messages) end
  for _, t in ipairs(redis.call('HKEYS', gk .. ':thread_index')) do
    redis.call('DEL', gk .. ':thread:' .. t .. ':members')
  end
  for _, s in ipairs(GUILD_SUFFIXES) do redis.call('DEL', gk .. s) end
end

local function current_gen()
  return redis.call('HGET', shard_key, 'gen') or '0'
end

-- ops
local i = 7
local n = #ARGV
local function arg() local v = ARGV[i]; i = i + 1; return v end
local function pairs_call(cmd, key, count)
  local done = 0
  while done < count do
    local take = math.min(CHUNK, count - done)
    local args = {}
    for j = 1, take * 2 do args[j] = ARGV[i + j - 1] end
    i = i + take * 2
    if key then redis.call(cmd, key, unpack(args)) else redis.call(cmd, unpack(args)) end
    done = done + take
  end
end

while i <= n do
  local op = arg()
  if op == 'S' then
    local k = arg(); redis.call('SET', k, arg())
  elseif op == 'D' then
    redis.call('DEL', arg())
  elseif op == 'H' then
    local k = arg(); local count = tonumber(arg())
    pairs_call('HSET', k, count)
  elseif op == 'M' then
    local count = tonumber(arg())
    pairs_call('MSET', nil, count)
  elseif op == 'HD' then
    local k = arg(); local count = tonumber(arg())
    for _ = 1, count do redis.call('HDEL', k, arg()) end
  elseif op == 'HIX' then
    -- HINCRBY only when the field exists
    local k = arg(); local f = arg(); local by = arg()
    if redis.call('HEXISTS', k, f) == 1 then redis.call('HINCRBY', k, f, by) end
  elseif op == 'MU' then
    -- member update: only when cached; keeps deaf/mute when the update lacks them
    local k = arg(); local f = arg(); local json = arg(); local need = arg()
    local uk = arg(); local ujson = arg()
    local old = redis.call('HGET', k, f)
    if old then
      if string.find(need, 'm', 1, true) then
        json = '{"mute":' .. (string.match(old, '"mute":(%a+)') or 'false') .. ',' .. string.sub(json, 2)
      end
      if string.find(need, 'd', 1, true) then
        json = '{"deaf":' .. (string.match(old, '"deaf":(%a+)') or 'false') .. ',' .. string.sub(json, 2)
      end
      redis.call('HSET', k, f, json)
      redis.call('SET', uk, ujson)
    end
  elseif op == 'DG' then
    local g = arg(); local keep = arg() == '1'
    del_guild(g, keep)
  elseif op == 'DC' then
    local g = arg(); local c = arg()
    del_channel(g, c, false)
  elseif op == 'REG' then
    -- the guild was sent by this shard in its current generation
    local g = arg()
    local gen = current_gen()
    redis.call('HSET', shard_guilds, g, gen)
    redis.call('HSET', guild_key(g) .. ':state', 'shard', shard, 'gen', gen)
  elseif op == 'READY' then
    -- a new session lists every guild of the shard: retire the others, mark the listed ones
    -- as refilling (their previous data stays readable until their GUILD_CREATE)
    local count = tonumber(arg())
    local gen = current_gen()
    local listed = {}
    for _ = 1, count do listed[arg()] = true end
    for _, g in ipairs(redis.call('HKEYS', shard_guilds)) do
      if not listed[g] then
        local owner = redis.call('HGET', guild_key(g) .. ':state', 'shard')
        if (not owner) or owner == shard then del_guild(g, false) end
        redis.call('HDEL', shard_guilds, g)
      end
    end
    for g, _ in pairs(listed) do
      redis.call('HSET', shard_guilds, g, gen)
      if redis.call('EXISTS', guild_key(g)) == 1 then
        redis.call('HSET', guild_key(g) .. ':state', 'complete', '0')
      end
    end
  elseif op == 'UNREG' then
    redis.call('HDEL', shard_guilds, arg())
  elseif op == 'MA' then
    local c = arg(); local m = arg(); local json = arg(); local limit = tonumber(arg())
    local mk = message_key(c, m)
    if redis.call('EXISTS', mk) == 1 then
      redis.call('SET', mk, json)
    else
      redis.call('SET', mk, json)
      redis.call('LPUSH', messages_key(c), m)
      for _, old in ipairs(redis.call('LRANGE', messages_key(c), limit, -1)) do
        redis.call('DEL', message_key(c, old))
      end
      redis.call('LTRIM', messages_key(c), 0, limit - 1)
    end
  elseif op == 'MS' then
    local c = arg(); local m = arg(); local json = arg()
    redis.call('SET', message_key(c, m), json, 'XX')
  elseif op == 'MD' then
    local c = arg(); local count = tonumber(arg())
    for _ = 1, count do
      local m = arg()
      redis.call('DEL', message_key(c, m))
      redis.call('LREM', messages_key(c), 0, m)
    end
  else
    return redis.error_reply('DDISCORD unknown projection op ' .. tostring(op))
  end
end
return 1
