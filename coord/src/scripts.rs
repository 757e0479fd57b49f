//! The Lua scripts of the lease protocol. Each runs atomically in Redis and reads the time from
//! Redis (`TIME`), so the nodes' clocks do not matter.

use std::sync::LazyLock;

use redis::Script;

/// One claimer round: heartbeat, renew held leases, give up surplus, claim up to the fair share.
///
/// KEYS: `[nodes, lease(0), token(0), lease(1), token(1), …]` for every partition.
/// ARGV: `[node, ttl_ms, partitions, offset, handover, p1, t1, p2, t2, …]` (held leases).
/// Returns `{live, share, {kept p,t…}, {lost p,t…}, {released p,t…}, {acquired p,t…},
/// {surplus p,t…}}`: with `handover` = 1 the surplus is kept (and renewed) for its owner to
/// release after stopping cleanly; with 0 it is released at once.
pub(crate) static TICK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local node = ARGV[1]
local ttl = tonumber(ARGV[2])
local parts = tonumber(ARGV[3])
local offset = tonumber(ARGV[4])
local handover = ARGV[5] == '1'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, node)
redis.call('PEXPIRE', KEYS[1], ttl * 3)
local live = redis.call('ZCARD', KEYS[1])
local share = math.ceil(parts / live)
local kept, lost, released, acquired, surplus = {}, {}, {}, {}, {}
local held = {}
local i = 6
while i < #ARGV do
  local p = tonumber(ARGV[i])
  local tok = ARGV[i + 1]
  local k = KEYS[2 + 2 * p]
  local h = redis.call('HMGET', k, 'owner', 'token')
  if h[1] == node and h[2] == tok then
    redis.call('PEXPIRE', k, ttl)
    table.insert(kept, p)
    table.insert(kept, tonumber(tok))
    held[p] = true
  else
    table.insert(lost, p)
    table.insert(lost, tonumber(tok))
  end
  i = i + 2
end
local count = #kept / 2
if handover then
  local n = #kept
  while count > share do
    table.insert(surplus, kept[n - 1])
    table.insert(surplus, kept[n])
    n = n - 2
    count = count - 1
  end
  count = #kept / 2
else
  while count > share do
    local tok = table.remove(kept)
    local p = table.remove(kept)
    redis.call('DEL', KEYS[2 + 2 * p])
    held[p] = nil
    table.insert(released, p)
    table.insert(released, tok)
    count = count - 1
  end
end
local j = 0
while count < share and j < parts do
  local p = (offset + j) % parts
  if not held[p] then
    local k = KEYS[2 + 2 * p]
    if redis.call('EXISTS', k) == 0 then
      local tok = redis.call('INCR', KEYS[3 + 2 * p])
      redis.call('HSET', k, 'owner', node, 'token', tok, 'since_ms', now)
      redis.call('PEXPIRE', k, ttl)
      table.insert(acquired, p)
      table.insert(acquired, tok)
      count = count + 1
    end
  end
  j = j + 1
end
return {live, share, kept, lost, released, acquired, surplus}
",
    )
});

/// Releases one lease if it is still ours. KEYS: `[lease]`, ARGV: `[node, token]`. Returns 1 when
/// released.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local h = redis.call('HMGET', KEYS[1], 'owner', 'token')
if h[1] == ARGV[1] and h[2] == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
",
    )
});
