-- Applies a batch of dispatches of one shard to the cache, in order, atomically: each event is
-- applied if it is the next one of its shard's session, exactly as if this script ran once per
-- event.
-- KEYS[1] = shard:<s> hash, KEYS[2] = shard:<s>:sessions list
-- KEYS[3] (optional) = the lease hash that fences the writes (ddiscord::coord::Fence::key)
-- ARGV[1] = key prefix, ARGV[2] = shard, ARGV[3] = fencing token ('' without KEYS[3]),
-- ARGV[4] = number of events; then per event: session ('' when unknown), sequence, kind ('R'
-- READY, 'E' dispatch, 'N' no guard; a trailing '!' accepts a gap in the sequence), the number
-- of op arguments that follow, the ops.
-- GUILD_SUFFIXES is prepended by the worker from ddiscord::cache::keys::GUILD_SUFFIXES.
-- Returns one code per event: 1 when applied, 0 when skipped as a duplicate or a replaced
-- session's event, 2 when not applied because an earlier sequence of the session is missing (a
-- gap: the caller holds the event and offers it again once the gap is filled; the session's
-- later events in the batch are gaps too).
-- Dispatch sequences are contiguous within a session
-- (https://discord.com/developers/docs/events/gateway#sending-heartbeats), so an event whose
-- sequence is not the next one means an earlier one has not arrived yet.
--
-- The sequence is written before the ops of each event that has any (and at the end): if the
-- script fails part-way (Redis keeps the writes made before the failure), a retry of the batch
-- skips every event whose writes began, so no non-idempotent write (user references, member
-- counts, READY's generation) is ever applied twice. Events without ops (skipped, not cached)
-- do not write their sequence each: a retry admits them again, and they write nothing.
local shard_key, sessions_key = KEYS[1], KEYS[2]
local P, shard = ARGV[1], ARGV[2]
local events = tonumber(ARGV[4])
local SESSIONS_KEPT = 64

if KEYS[3] and redis.call('HGET', KEYS[3], 'token') ~= ARGV[3] then
  return redis.error_reply('DDFENCED lease token ' .. ARGV[3] .. ' is no longer current')
end

-- The shard's guard, read once and kept here across the batch (the script is atomic).
local guard = redis.call('HMGET', shard_key, 'session', 'seq')
local cur, curseq = guard[1], tonumber(guard[2] or '0')
-- Whether curseq is in Redis: it is written before the ops of an event that has any, and at
-- the end of the script; an event without ops that a failed call admitted is admitted again
-- by the retry, which writes nothing either.
local seq_written = true
local gen = nil

-- Passes the (session, sequence) guard: 1 apply, 0 duplicate or replaced session, 2 gap.
local function admit(session, seq_text, kind)
  local force = string.sub(kind, 2, 2) == '!'
  kind = string.sub(kind, 1, 1)
  if kind == 'N' then return 1 end
  local seq = tonumber(seq_text)
  if session == '' then
    if seq <= curseq then return 0 end
  elseif session == cur then
    if seq <= curseq then return 0 end
    if seq > curseq + 1 and not force then return 2 end
  elseif redis.call('LPOS', sessions_key, session) then
    return 0
  else
    -- A session not seen before starts at its READY (sequence 1); anything else first means
    -- its READY (or what followed) has not arrived yet.
    if kind ~= 'R' and seq > 1 and not force then return 2 end
    if cur then
      redis.call('LPUSH', sessions_key, cur)
      redis.call('LTRIM', sessions_key, 0, SESSIONS_KEPT - 1)
    end
    redis.call('HSET', shard_key, 'session', session, 'seq', seq)
    cur, curseq, seq_written = session, seq, true
    if kind == 'R' then
      redis.call('HINCRBY', shard_key, 'gen', 1)
      gen = nil
    end
    return 1
  end
  curseq, seq_written = seq, false
  return 1
end

-- Writes the sequence admitted last, if it is not written yet.
local function write_seq()
  if not seq_written then
    redis.call('HSET', shard_key, 'seq', curseq)
    seq_written = true
  end
end

local function guild_key(g) return P .. 'guild:' .. g end
local function messages_key(c) return P .. 'channel:' .. c .. ':messages' end
local function message_key(c, m) return P .. 'channel:' .. c .. ':message:' .. m end
local function user_key(u) return P .. 'user:' .. u end
local shard_guilds = P .. 'shard:' .. shard .. ':guilds'
local channel_guild = P .. 'channel-guild'
local user_refs = P .. 'user-refs'
local CHUNK = 500

-- JSON objects, split into their top-level fields without decoding the values, so the text of
-- every value stays exactly as Discord sent it. Objects are the projection's own compact
-- writes ({"key":value,...}); anything else splits to nil and is left untouched.
local find, byte = string.find, string.byte

-- The index of the '"' that ends the string whose opening '"' is at q (plain finds: a quote
-- preceded by an odd number of backslashes is escaped).
local function string_end(s, q)
  local pos = q + 1
  while true do
    local j = find(s, '"', pos, true)
    if not j then return nil end
    local k = j - 1
    while byte(s, k) == 92 do k = k - 1 end
    if (j - k) % 2 == 1 then return j end
    pos = j + 1
  end
end

-- The index of the ',' '}' or ']' that ends the nested value starting at i.
local function nested_end(s, i)
  local depth, pos = 0, i
  while true do
    local j = find(s, '[",{}%[%]]', pos)
    if not j then return nil end
    local c = byte(s, j)
    if c == 34 then
      local e = string_end(s, j)
      if not e then return nil end
      pos = e + 1
    elseif c == 123 or c == 91 then
      depth = depth + 1; pos = j + 1
    elseif depth == 0 then
      return j
    elseif c == 44 then
      pos = j + 1
    else
      depth = depth - 1; pos = j + 1
    end
  end
end

-- The index of the ',' '}' or ']' that ends the value starting at i: a string or a literal
-- (number, true, false, null) is found without scanning it character by character.
local function value_end(s, i)
  local c = byte(s, i)
  if c == 34 then
    local e = string_end(s, i)
    if not e then return nil end
    local d = byte(s, e + 1)
    if d == 44 or d == 125 or d == 93 then return e + 1 end
    return nested_end(s, e + 1)
  elseif c == 123 or c == 91 then
    return nested_end(s, i)
  end
  return (find(s, '[,}%]]', i))
end

-- keys (JSON text, quotes included) in order, and key -> value text; nil when not an object
local function split(s)
  if type(s) ~= 'string' or string.byte(s, 1) ~= 123 then return nil end
  local keys, vals = {}, {}
  if string.byte(s, 2) == 125 then return keys, vals end
  local pos = 2
  while true do
    if string.byte(s, pos) ~= 34 then return nil end
    local ke = string_end(s, pos)
    if not ke or string.byte(s, ke + 1) ~= 58 then return nil end
    local key = string.sub(s, pos, ke)
    local ve = value_end(s, ke + 2)
    if not ve then return nil end
    if vals[key] == nil then keys[#keys + 1] = key end
    vals[key] = string.sub(s, ke + 2, ve - 1)
    local c = string.byte(s, ve)
    if c == 125 then return keys, vals end
    if c ~= 44 then return nil end
    pos = ve + 1
  end
end

local function join(keys, vals)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. ':' .. vals[k] end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- the old object with the fields set (`count` key, value pairs of ARGV from `from`); nil when
-- old is not an object
local function merged_by_split(old, fields)
  local keys, vals = split(old)
  if not keys then return nil end
  for j = fields.from, fields.from + 2 * fields.count - 1, 2 do
    local k = ARGV[j]
    if vals[k] == nil then keys[#keys + 1] = k end
    vals[k] = ARGV[j + 1]
  end
  return join(keys, vals)
end

-- As merged_by_split, copying the text between replaced values in slices instead of splitting
-- every field out (an object with a repeated key goes to merged_by_split, which keeps one).
local function merged(old, fields)
  if type(old) ~= 'string' or byte(old, 1) ~= 123 then return nil end
  local want = {}
  local last_field = fields.from + 2 * fields.count - 1
  for j = fields.from, last_field, 2 do want[ARGV[j]] = j + 1 end
  local parts, n, from = {}, 0, 1
  local seen = {}
  local close = 2
  if byte(old, 2) ~= 125 then
    local pos = 2
    while true do
      if byte(old, pos) ~= 34 then return nil end
      local ke = string_end(old, pos)
      if not ke or byte(old, ke + 1) ~= 58 then return nil end
      local key = string.sub(old, pos, ke)
      local ve = value_end(old, ke + 2)
      if not ve then return nil end
      if seen[key] then return merged_by_split(old, fields) end
      seen[key] = true
      local at = want[key]
      if at then
        parts[n + 1] = string.sub(old, from, ke + 1); parts[n + 2] = ARGV[at]
        n = n + 2
        from = ve
      end
      local c = byte(old, ve)
      if c == 125 then close = ve; break end
      if c ~= 44 then return nil end
      pos = ve + 1
    end
  end
  n = n + 1; parts[n] = string.sub(old, from, close - 1)
  local any = close > 2
  for j = fields.from, last_field, 2 do
    local k = ARGV[j]
    if not seen[k] then
      seen[k] = true
      n = n + 1; parts[n] = (any and ',' or '') .. k .. ':' .. ARGV[want[k]]
      any = true
    end
  end
  n = n + 1; parts[n] = '}'
  return table.concat(parts)
end

local function object_of(fields) return merged('{}', fields) end

-- users are kept while a cached guild holds them as a member
local function unref(u)
  if redis.call('HINCRBY', user_refs, u, -1) <= 0 then
    redis.call('HDEL', user_refs, u)
    redis.call('DEL', user_key(u))
  end
end

-- unref of each of the distinct users `ids`, a chunk of them per call
local function unref_all(ids)
  for from = 1, #ids, CHUNK do
    local to = math.min(from + CHUNK - 1, #ids)
    local refs = redis.call('HMGET', user_refs, unpack(ids, from, to))
    local keep, gone, users = {}, {}, {}
    for j = 1, to - from + 1 do
      local u = ids[from + j - 1]
      local left = tonumber(refs[j] or '0') - 1
      if left <= 0 then
        gone[#gone + 1] = u; users[#users + 1] = user_key(u)
      else
        keep[#keep + 1] = u; keep[#keep + 1] = left
      end
    end
    if #keep > 0 then redis.call('HSET', user_refs, unpack(keep)) end
    if #gone > 0 then
      redis.call('HDEL', user_refs, unpack(gone))
      redis.call('DEL', unpack(users))
    end
  end
end

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

-- A guild being replaced (GUILD_CREATE of a cached guild) keeps its previous members here
-- until the script ends: members the new GUILD_CREATE carries again keep their user
-- references, the others drop theirs (finish_replacing).
local function replaced_members(g) return guild_key(g) .. ':members-replaced' end
local replacing = {}

local function finish_replacing()
  if next(replacing) == nil then return end
  for g, _ in pairs(replacing) do
    local rk = replaced_members(g)
    unref_all(redis.call('HKEYS', rk))
    redis.call('DEL', rk)
  end
  replacing = {}
end

local function del_guild(g, keep_messages)
  local gk = guild_key(g)
  local chans = redis.call('HKEYS', gk .. ':channels')
  for _, c in ipairs(chans) do del_channel(g, c, keep_messages) end
  for _, t in ipairs(redis.call('HKEYS', gk .. ':thread_index')) do
    redis.call('DEL', gk .. ':thread:' .. t .. ':members')
  end
  if keep_messages then
    -- replaced by a GUILD_CREATE in this script: see replaced_members
    local rk = replaced_members(g)
    replacing[g] = true
    unref_all(redis.call('HKEYS', rk))
    redis.call('DEL', rk)
    if redis.call('EXISTS', gk .. ':members') == 1 then redis.call('RENAME', gk .. ':members', rk) end
  else
    unref_all(redis.call('HKEYS', gk .. ':members'))
  end
  for _, s in ipairs(GUILD_SUFFIXES) do redis.call('DEL', gk .. s) end
end

-- the shard's generation, read once per batch (and again after READY bumps it)
local function current_gen()
  if not gen then gen = redis.call('HGET', shard_key, 'gen') or '0' end
  return gen
end

-- ops
local i = 5
local function arg() local v = ARGV[i]; i = i + 1; return v end
local function pairs_call(cmd, key, count)
  if count == 1 and key then
    redis.call(cmd, key, ARGV[i], ARGV[i + 1])
    i = i + 2
    return
  end
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

-- the fields of a merge: where their key, value pairs start in ARGV, and how many
local function fields()
  local count = tonumber(arg())
  local fs = {from = i, count = count}
  i = i + 2 * count
  return fs
end

local function merge_into(k, f, fs)
  local old
  if f == '' then old = redis.call('GET', k) else old = redis.call('HGET', k, f) end
  if not old then return false end
  local new = merged(old, fs)
  if new then
    if f == '' then redis.call('SET', k, new) else redis.call('HSET', k, f, new) end
  end
  return true
end

local codes = {}
for e = 1, events do
  local session, seq_text, kind = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local stop = i + 4 + tonumber(ARGV[i + 3])
  i = i + 4
  local code = admit(session, seq_text, kind)
  codes[e] = code
  if code == 1 and i < stop then
    write_seq()
    while i < stop do
      local op = arg()
      if op == 'S' then
        local k = arg(); redis.call('SET', k, arg())
      elseif op == 'D' then
        redis.call('DEL', arg())
      elseif op == 'H' then
        local k = arg(); local count = tonumber(arg())
        pairs_call('HSET', k, count)
      elseif op == 'HD' then
        local k = arg(); local count = tonumber(arg())
        for _ = 1, count do redis.call('HDEL', k, arg()) end
      elseif op == 'HIX' then
        -- HINCRBY only when the field exists
        local k = arg(); local f = arg(); local by = arg()
        if redis.call('HEXISTS', k, f) == 1 then redis.call('HINCRBY', k, f, by) end
      elseif op == 'J' or op == 'JC' then
        -- merge fields into a cached object (a string key, or a hash field); JC creates it
        local k = arg(); local f = arg(); local fs = fields()
        if not merge_into(k, f, fs) and op == 'JC' then
          if f == '' then redis.call('SET', k, object_of(fs)) else redis.call('HSET', k, f, object_of(fs)) end
        end
      elseif op == 'CJ' then
        -- merge fields into a cached channel, its guild found through channel-guild if not given
        local c = arg(); local g = arg(); local fs = fields()
        if g == '' then g = redis.call('HGET', channel_guild, c) end
        if g then merge_into(guild_key(g) .. ':channels', c, fs) end
      elseif op == 'JI' then
        -- add to an integer field of a cached object
        local k = arg(); local f = arg(); local by = tonumber(arg())
        local keys, vals = split(redis.call('GET', k))
        local cur = keys and vals[f] and tonumber(vals[f])
        if cur then
          vals[f] = string.format('%d', math.max(0, cur + by))
          redis.call('SET', k, join(keys, vals))
        end
      elseif op == 'MS' then
        -- members and their users, in chunks; a member new to the guild references its user
        local g = arg()
        local mk = guild_key(g) .. ':members'
        local rk = replacing[g] and replaced_members(g)
        local count = tonumber(arg())
        local done = 0
        while done < count do
          local take = math.min(CHUNK, count - done)
          local ids, members, users = {}, {}, {}
          for j = 1, take do
            local u = arg(); local m = arg(); local uj = arg()
            ids[j] = u
            members[2 * j - 1] = u; members[2 * j] = m
            users[2 * j - 1] = user_key(u); users[2 * j] = uj
          end
          local cached = redis.call('HMGET', mk, unpack(ids))
          local before = rk and redis.call('HMGET', rk, unpack(ids)) or {}
          local seen, fresh = {}, {}
          for j = 1, take do
            local u = ids[j]
            if not cached[j] and not before[j] and not seen[u] then fresh[#fresh + 1] = u end
            seen[u] = true
          end
          if #fresh > 0 then
            -- HINCRBY by 1 of each, in one read and one write
            local refs = redis.call('HMGET', user_refs, unpack(fresh))
            local set = {}
            for j, u in ipairs(fresh) do
              set[2 * j - 1] = u; set[2 * j] = tonumber(refs[j] or '0') + 1
            end
            redis.call('HSET', user_refs, unpack(set))
          end
          if rk then redis.call('HDEL', rk, unpack(ids)) end
          redis.call('HSET', mk, unpack(members))
          redis.call('MSET', unpack(users))
          done = done + take
        end
      elseif op == 'MC' then
        -- fully chunked once the members hash holds the state's member_count
        local g = arg()
        local sk = guild_key(g) .. ':state'
        local want = tonumber(redis.call('HGET', sk, 'member_count'))
        if want and redis.call('HLEN', guild_key(g) .. ':members') >= want then
          redis.call('HSET', sk, 'members_chunked', '1')
        end
      elseif op == 'MJ' then
        -- merge into a cached member (or create it), and set its user
        local g = arg()
        local mk = guild_key(g) .. ':members'
        local u = arg(); local create = arg() == '1'; local uj = arg(); local fs = fields()
        local held = merge_into(mk, u, fs)
        if not held and create then
          redis.call('HSET', mk, u, object_of(fs))
          redis.call('HINCRBY', user_refs, u, 1)
          held = true
        end
        if held and uj ~= '' then redis.call('SET', user_key(u), uj) end
      elseif op == 'MR' then
        -- a member leaves: its presence goes, and its user when no other guild holds it
        local g = arg(); local u = arg()
        if redis.call('HDEL', guild_key(g) .. ':members', u) == 1 then unref(u) end
        redis.call('HDEL', guild_key(g) .. ':presences', u)
      elseif op == 'US' then
        local u = arg(); local json = arg()
        if redis.call('HEXISTS', user_refs, u) == 1 then redis.call('SET', user_key(u), json) end
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
    finish_replacing()
  end
  i = stop
end
write_seq()
return codes
