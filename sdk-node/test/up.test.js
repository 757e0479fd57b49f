'use strict'
// The main job with a script attached: `ddiscord up` on the simulator (ingest, embedded mesh,
// state worker, private Redis), and examples/node/moderation.js attached with the URLs `up`
// prints. What the script read from the cache must be what the cache holds: every role it
// counted is a role of a cached guild, or one the simulator's traffic deleted since (the test
// watches GUILD_ROLE_DELETE on the dispatch tree while the script runs).
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const readline = require('node:readline')
const Redis = require('ioredis')

const { connect, codes } = require('..')
const { ddiscordBinary } = require('../testkit/pipeline')
const { runExample } = require('../testkit/examples')
const { freePort } = require('../testkit/servers')

// `ddiscord up` on the simulator (2 shards, 4 guilds) with `args` added.
async function startUp(args = ['--events-per-sec', '200']) {
  const env = { ...process.env }
  for (const k of ['DDISCORD_REDIS_URL', 'DDISCORD_MESH_URL', 'DISCORD_TOKEN']) delete env[k]
  const port = await freePort()
  const child = spawn(
    ddiscordBinary(),
    ['up', '--plain', '--run-secs', '120', '--shards', '2', '--guilds', '4', '--http-addr', `127.0.0.1:${port}`, ...args],
    { env, stdio: ['ignore', 'pipe', 'ignore'] },
  )
  const urls = {}
  const lines = readline.createInterface({ input: child.stdout })
  for await (const line of lines) {
    const [name, url] = line.trim().split(/\s+/)
    if (name === 'mesh' || name === 'redis') urls[name] = url
    if (urls.mesh && urls.redis) break
  }
  assert.ok(urls.mesh && urls.redis, 'ddiscord up exited before printing where scripts attach')
  // Keep draining its output so it never blocks on a full pipe.
  child.stdout.resume()
  return { child, urls }
}

test('moderation.js attached to ddiscord up reads what the cache holds', { timeout: 180_000 }, async () => {
  const { child, urls } = await startUp()
  const store = new Redis(urls.redis)
  const client = await connect({ meshUrl: urls.mesh, redisUrl: urls.redis })
  try {
    const deletes = client.subscribe('discord/*/*/GUILD_ROLE_DELETE')
    await deletes.ready
    const deleted = new Set()
    const watching = (async () => {
      for await (const event of deletes) deleted.add(String(event.data.role_id))
    })()
    const script = runExample('moderation.js', { DDISCORD_MESH_URL: urls.mesh, DDISCORD_REDIS_URL: urls.redis }, ['--max-events', '40'])
    await script.waitFor(/^ready$/, 60_000)
    const line = await script.waitFor(/^\{/, 90_000)
    assert.equal(await script.exited, 0, script.stderr)
    const counts = JSON.parse(line)
    assert.ok(Object.values(counts).reduce((a, b) => a + b, 0) > 0)

    const cachedRoles = new Set()
    for (const shard of [0, 1]) {
      for (const guild of await store.hkeys(`dd:shard:${shard}:guilds`)) {
        for (const role of await store.hkeys(`dd:guild:${guild}:roles`)) cachedRoles.add(role)
      }
    }
    assert.ok(cachedRoles.size > 0, 'the state worker cached no roles')
    // A role missing from Redis was deleted by a dispatch published before the read above;
    // give this subscription a moment to have received it too.
    await new Promise((r) => setTimeout(r, 1000))
    deletes.close()
    await watching
    for (const role of Object.keys(counts)) {
      if (role === '@everyone') continue
      assert.ok(cachedRoles.has(role) || deleted.has(role), `role ${role} read by the script is neither cached nor deleted`)
    }
  } finally {
    await client.close()
    store.disconnect()
    child.kill('SIGTERM')
  }
})

test('gateway commands from a script reach the simulator and come back', { timeout: 180_000 }, async () => {
  const { child, urls } = await startUp()
  const store = new Redis(urls.redis)
  const client = await connect({ meshUrl: urls.mesh, redisUrl: urls.redis })
  try {
    // A guild whose GUILD_CREATE is applied.
    let guild
    for (let i = 0; i < 300 && !guild; i++) {
      for (const shard of [0, 1]) {
        for (const g of await store.hkeys(`dd:shard:${shard}:guilds`)) {
          if ((await store.hget(`dd:guild:${g}:state`, 'complete')) === '1') guild = g
        }
      }
      if (!guild) await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(guild, 'no guild completed within 30 s')
    const me = await client.cache.currentUser()
    assert.ok(me)

    // REQUEST_GUILD_MEMBERS: the chunks come back to this caller by nonce.
    const got = new Set()
    for await (const chunk of client.requestGuildMembers(guild, { query: '', limit: 0, nonce: 'node-e2e' })) {
      assert.equal(chunk.data.nonce, 'node-e2e')
      for (const m of chunk.data.members) got.add(m.user.id)
    }
    const cached = await client.cache.memberIds(guild)
    // The traffic keeps changing members meanwhile: the answer and the cache agree on
    // everyone the traffic did not touch.
    const both = cached.filter((u) => got.has(u)).length
    assert.ok(both >= 0.9 * cached.length, `${both} of ${cached.length}`)
    assert.ok(got.has(me.id))

    // UPDATE_PRESENCE: the bot's PRESENCE_UPDATE reaches subscribers.
    const presences = client.subscribe('discord/*/*/PRESENCE_UPDATE')
    await presences.ready
    await client.updatePresence({ status: 'dnd', activities: [{ name: 'e2e', type: 0 }] })
    let mine
    for await (const event of presences) {
      if (event.data.user.id === me.id) {
        mine = event.data
        break
      }
    }
    assert.equal(mine.status, 'dnd')
  } finally {
    await client.close()
    store.disconnect()
    child.kill('SIGTERM')
  }
})

test('requestGuildMembers fills a large guild, and a second request within 30 s is rate-limited', { timeout: 180_000 }, async () => {
  // The large guild, a large_threshold of 50 (its GUILD_CREATE leaves the offline members out)
  // and ingest's own member request turned off: this script's request fills it. No generated
  // traffic, so the members are exactly the ones the chunks carry.
  const { child, urls } = await startUp(['--large-guild', '--large-threshold', '50', '--request-members', 'false', '--events-per-sec', '0'])
  const store = new Redis(urls.redis)
  const client = await connect({ meshUrl: urls.mesh, redisUrl: urls.redis })
  try {
    let large
    for (let i = 0; i < 600 && !large; i++) {
      let best = 0
      for (const shard of [0, 1]) {
        for (const g of await store.hkeys(`dd:shard:${shard}:guilds`)) {
          const [complete, count] = await store.hmget(`dd:guild:${g}:state`, 'complete', 'member_count')
          if (complete === '1' && Number(count) > 1000 && Number(count) > best) {
            best = Number(count)
            large = g
          }
        }
      }
      if (!large) await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(large, 'the large guild was not cached within 60 s')
    let state = await client.cache.guildState(large)
    assert.equal(state.membersChunked, false)
    assert.ok((await client.cache.memberIds(large)).length < state.memberCount)

    const chunks = []
    for await (const chunk of client.requestGuildMembers(large, { query: '', limit: 0, nonce: 'node-large' })) chunks.push(chunk.data)
    const count = chunks[0].chunk_count
    assert.deepEqual(chunks.map((c) => c.chunk_index).sort((a, b) => a - b), [...Array(count).keys()])
    for (const c of chunks) assert.deepEqual([c.nonce, c.chunk_count, c.guild_id], ['node-large', count, large])
    const got = new Set(chunks.flatMap((c) => c.members.map((m) => m.user.id)))
    assert.equal(got.size, state.memberCount)
    assert.equal(count, Math.ceil(got.size / 1000))

    for (let i = 0; i < 300 && !state.membersChunked; i++) {
      await new Promise((r) => setTimeout(r, 100))
      state = await client.cache.guildState(large)
    }
    assert.ok(state.membersChunked, 'members_chunked not set within 30 s')
    assert.deepEqual(new Set(await client.cache.memberIds(large)), got)

    await assert.rejects(
      (async () => {
        for await (const _ of client.requestGuildMembers(large, { query: '', limit: 0 })) assert.fail('a refused request got a chunk')
      })(),
      (err) => err.code === codes.RATE_LIMITED && /retry after/.test(err.message),
    )
  } finally {
    await client.close()
    store.disconnect()
    child.kill('SIGTERM')
  }
})
