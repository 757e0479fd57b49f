'use strict'
// The scripts in examples/node/, run as a user runs them.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startMosquitto, startRedis } = require('../testkit/servers')
const { publisher, publishAll, envelope, topicOf } = require('../testkit/feed')
const { LARGE_GUILD, load, sessionFrames, envelopes, project } = require('../testkit/session')
const { runExample } = require('../testkit/examples')

let broker
let redis
const fx = load()

before(async () => {
  ;[broker, redis] = await Promise.all([startMosquitto(), startRedis()])
  project(redis.url, envelopes(sessionFrames()))
})

after(async () => {
  await Promise.all([broker.close(), redis.close()])
})

test('moderation.js counts messages per role of the author, read from the cache', async () => {
  const template = fx.v10.find((f) => f.t === 'MESSAGE_CREATE')
  const authors = fx.large.d.members.filter((m) => m.roles.length > 0 && !m.user.bot).slice(0, 30)
  const frames = authors.map((m, i) => ({
    ...template,
    s: 1000 + i,
    d: { ...template.d, id: String(1000n + BigInt(i)), guild_id: LARGE_GUILD, author: m.user, content: `hello ${i}` },
  }))
  const roleName = new Map(fx.large.d.roles.map((r) => [r.id, r.name]))
  const expected = {}
  for (const m of authors) {
    for (const r of [LARGE_GUILD, ...m.roles]) {
      const key = `${LARGE_GUILD}/${roleName.get(r) ?? `unknown role ${r}`}`
      expected[key] = (expected[key] ?? 0) + 1
    }
  }
  const script = runExample('moderation.js', {
    DDISCORD_MESH_URL: broker.url,
    DDISCORD_REDIS_URL: redis.url,
    MAX_MESSAGES: String(frames.length),
    REPORT_EVERY: '1000000',
  })
  try {
    await script.waitFor(/^ready$/)
    const pub = await publisher(broker.url)
    await publishAll(pub, frames.map((f) => [topicOf(f), envelope(f)]))
    await pub.endAsync()
    const line = await script.waitFor(/^\{"messages":/)
    assert.equal(await script.exited, 0, script.stderr)
    const report = JSON.parse(line)
    assert.equal(report.messages, frames.length)
    assert.deepEqual(report.perRole, Object.fromEntries(Object.entries(expected).sort()))
  } finally {
    script.child.kill('SIGKILL')
  }
})
