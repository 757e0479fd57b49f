'use strict'
// The scripts in examples/node/, run as a user runs them (the same scenarios as the Python
// package's examples).
const { test, before, after, beforeEach, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const Redis = require('ioredis')

const { startMosquitto, startRedis } = require('../testkit/servers')
const { publisher, publishAll, envelope, topicOf } = require('../testkit/feed')
const { LARGE_GUILD, load, sessionFrames, envelopes, project } = require('../testkit/session')
const { runExample } = require('../testkit/examples')

let broker
let redis
let raw
let pub
const fx = load()

before(async () => {
  broker = await startMosquitto()
  pub = await publisher(broker.url)
})

after(async () => {
  await pub.endAsync()
  await broker.close()
})

// Each test gets its own Redis: the work-queue bookkeeping and leases start empty.
beforeEach(async () => {
  redis = await startRedis()
  raw = new Redis(redis.url)
})

afterEach(async () => {
  raw.disconnect()
  await redis.close()
})

async function until(pred, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('moderation.js counts messages per role of the author, read from the cache', async () => {
  project(redis.url, envelopes(sessionFrames()))
  // The captured MESSAGE_CREATEs, plus messages by members of the large guild (who have roles).
  const template = fx.v10.find((f) => f.t === 'MESSAGE_CREATE')
  const authors = fx.large.d.members.filter((m) => m.roles.length > 0 && !m.user.bot).slice(0, 30)
  const frames = [
    ...fx.v10.filter((f) => f.t === 'MESSAGE_CREATE'),
    ...authors.map((m, i) => ({ ...template, s: 1000 + i, d: { ...template.d, id: String(1000n + BigInt(i)), guild_id: LARGE_GUILD, author: m.user } })),
  ]
  const expected = {}
  for (const f of frames) {
    const guild = f.d.guild_id
    if (!guild || f.d.author.bot) continue
    const stored = await raw.hget(`dd:guild:${guild}:members`, f.d.author.id)
    const roles = stored ? JSON.parse(stored).roles : []
    for (const role of roles.length ? roles : ['@everyone']) expected[role] = (expected[role] ?? 0) + 1
  }
  const script = runExample('moderation.js', { DDISCORD_MESH_URL: broker.url, DDISCORD_REDIS_URL: redis.url }, ['--max-events', String(frames.length)])
  try {
    await script.waitFor(/^ready$/)
    // As the state worker does after applying each event.
    await publishAll(pub, frames.map((f) => [topicOf(f).replace(/^discord\//, 'discord-state/'), envelope(f)]))
    const line = await script.waitFor(/^\{/)
    assert.equal(await script.exited, 0, script.stderr)
    const counts = JSON.parse(line)
    assert.deepEqual(counts, Object.fromEntries(Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1))))
    assert.ok(Object.keys(counts).length > 3)
  } finally {
    script.child.kill('SIGKILL')
  }
})

function typingStarts(from, count) {
  const out = []
  for (let seq = from; seq < from + count; seq++) {
    const shard = seq % 4
    const frame = `{"op":0,"t":"TYPING_START","s":${seq},"d":{"channel_id":"1","user_id":"2","timestamp":1}}`
    out.push([`discord/${shard}/-/TYPING_START`, envelope(frame, { shard, session: 'wq-session' })])
  }
  return out
}

// Replica a joins first (and holds every shard until b has joined and the leases rebalance).
async function replicas() {
  const env = { DDISCORD_MESH_URL: broker.url, DDISCORD_REDIS_URL: redis.url, DDISCORD_SHARDS: '4', EXAMPLE_LEASE_TTL: '2' }
  const a = runExample('work_queue.js', { ...env, EXAMPLE_REPLICA: 'a' })
  await a.waitFor(/^ready$/)
  const b = runExample('work_queue.js', { ...env, EXAMPLE_REPLICA: 'b' })
  await b.waitFor(/^ready$/)
  return [a, b]
}

async function stopAll(procs) {
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM')
    await p.exited
  }
}

test('work_queue.js: two replicas handle each event once', async () => {
  const procs = await replicas()
  try {
    await publishAll(pub, typingStarts(1, 200))
    await until(async () => (await raw.get('example:wq:handled')) === '200', '200 events handled')
    assert.equal((await raw.keys('example:wq:done:*')).length, 200)
    const log = await raw.lrange('example:wq:log', 0, -1)
    assert.equal(log.filter((l) => l.endsWith('first')).length, 200)
  } finally {
    await stopAll(procs)
  }
})

test('work_queue.js: a killed replica loses no event', async () => {
  const procs = await replicas()
  try {
    await publishAll(pub, typingStarts(1, 100))
    await until(async () => Number((await raw.get('example:wq:handled')) ?? 0) === 100, 'the first 100 events')
    assert.ok((await raw.lrange('example:wq:log', 0, -1)).some((l) => l.startsWith('a ')), 'replica a held shards')
    procs[0].child.kill('SIGKILL') // no clean shutdown: its leases expire
    await procs[0].exited
    await publishAll(pub, typingStarts(101, 100))
    await until(async () => Number((await raw.get('example:wq:handled')) ?? 0) === 200, 'the other 100 events after the kill', 40_000)
    const seqs = (await raw.keys('example:wq:done:*')).map((k) => Number(k.split(':').at(-1))).sort((a, b) => a - b)
    assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i + 1))
  } finally {
    await stopAll(procs)
  }
})
