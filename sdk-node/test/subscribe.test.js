'use strict'
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')

const ddiscord = require('..')
const { startMosquitto, fixtureEvents } = require('../testkit/servers')
const { envelope, topicOf, publisher, publishAll } = require('../testkit/feed')

let broker
let pub
const frames = fixtureEvents('events_v6_upgraded.jsonl').filter((f) => f.op === 0)
const messages = frames.map((f, i) => [topicOf(f, { shard: i % 2 }), envelope(f, { shard: i % 2 })])

before(async () => {
  broker = await startMosquitto()
  pub = await publisher(broker.url)
})

after(async () => {
  await pub.endAsync()
  await broker.close()
})

// Collects events from `sub` until `n` arrived.
async function take(sub, n) {
  const out = []
  if (n === 0) return out
  for await (const ev of sub) {
    out.push(ev)
    if (out.length >= n) break
  }
  return out
}

function matching(pred) {
  return messages.filter(([topic]) => pred(topic.split('/')))
}

const cases = [
  ['an exact topic', (t) => t, () => true],
  ['`*` for one level', () => 'discord/*/*/MESSAGE_CREATE', (l) => l[3] === 'MESSAGE_CREATE'],
  ['a prefix `MESSAGE_*`', () => 'discord/*/*/MESSAGE_*', (l) => l[3].startsWith('MESSAGE_')],
  ['`>` for the rest', () => 'discord/1/>', (l) => l[1] === '1'],
  ['a guild with `*` shards', () => 'discord/*/244567637332328449/*', (l) => l[2] === '244567637332328449'],
]

for (const [name, patternOf, pred] of cases) {
  test(`subscribe with ${name}`, async () => {
    const client = await ddiscord.connect({ meshUrl: broker.url })
    try {
      let pattern = patternOf(messages[3][0])
      const expected = name === 'an exact topic' ? messages.filter(([t]) => t === pattern) : matching(pred)
      assert.ok(expected.length > 0)
      const sub = client.subscribe(pattern)
      assert.equal(sub.pattern, pattern)
      await sub.ready
      await publishAll(pub, messages)
      const got = await take(sub, expected.length)
      assert.deepEqual(
        got.map((e) => e.topic).sort(),
        expected.map(([t]) => t).sort()
      )
      for (const ev of got) {
        const [, shard, guild, name] = ev.topic.split('/')
        assert.equal(ev.shard, Number(shard))
        assert.equal(ev.guildId, guild === '-' ? null : guild)
        assert.equal(ev.name, name)
        assert.equal(ev.envelope.t, name)
        assert.equal(typeof ev.sequence, 'number')
        assert.equal(ev.session, 'test-session')
        assert.ok(ev.raw.length > 0)
        const original = frames.find((f) => f.s === ev.sequence)
        assert.deepEqual(ev.data, original.d)
      }
    } finally {
      await client.close()
    }
  })
}

test('events arrive in batches and in publish order', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url })
  try {
    const sub = client.subscribe('discord/0/>')
    await sub.ready
    const expected = messages.filter(([t]) => t.startsWith('discord/0/'))
    const burst = []
    for (let i = 0; i < 20; i++) burst.push(...expected)
    await publishAll(pub, burst)
    const seen = []
    while (seen.length < burst.length) {
      const batch = await sub.nextBatch()
      assert.ok(batch.length >= 1)
      seen.push(...batch)
    }
    assert.deepEqual(seen.map((e) => e.text()), burst.map(([, p]) => p))
    sub.close()
    assert.equal(await sub.nextBatch(), null)
  } finally {
    await client.close()
  }
})

test('next() called again before a batch arrived waits for it: events stay in order, none twice', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url })
  try {
    const sub = client.subscribe('discord/0/>')
    await sub.ready
    const expected = messages.filter(([t]) => t.startsWith('discord/0/'))
    const it = sub[Symbol.asyncIterator]()
    const pending = expected.map(() => it.next())
    await publishAll(pub, expected)
    const got = await Promise.all(pending)
    assert.deepEqual(
      got.map((r) => r.value.text()),
      expected.map(([, p]) => p)
    )
    await it.return()
  } finally {
    await client.close()
  }
})

test('two subscribers each get every event', async () => {
  const a = await ddiscord.connect({ meshUrl: broker.url })
  const b = await ddiscord.connect({ meshUrl: broker.url })
  try {
    const sa = a.subscribe('discord/*/*/MESSAGE_CREATE')
    const sb = b.subscribe('discord/*/*/MESSAGE_CREATE')
    await Promise.all([sa.ready, sb.ready])
    await publishAll(pub, messages)
    const n = matching((l) => l[3] === 'MESSAGE_CREATE').length
    const [ga, gb] = await Promise.all([take(sa, n), take(sb, n)])
    assert.equal(ga.length, n)
    assert.equal(gb.length, n)
  } finally {
    await a.close()
    await b.close()
  }
})

test('closing the client ends its iterators', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url })
  const sub = client.subscribe('discord/>')
  await sub.ready
  const loop = (async () => {
    let n = 0
    for await (const _ of sub) n++
    return n
  })()
  await client.close()
  assert.equal(await loop, 0)
  assert.equal(client.closed, true)
})

test('subscribeState listens on the state tree, given either tree', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url })
  try {
    const a = client.subscribeState('discord/*/*/MESSAGE_CREATE')
    const b = client.subscribeState('discord-state/*/*/MESSAGE_CREATE')
    const plain = client.subscribe('discord/*/*/MESSAGE_CREATE')
    await Promise.all([a.ready, b.ready, plain.ready])
    const onState = messages
      .filter(([t]) => t.endsWith('/MESSAGE_CREATE'))
      .map(([t, p]) => [t.replace(/^discord\//, 'discord-state/'), p])
    await publishAll(pub, onState)
    const [ga, gb] = await Promise.all([take(a, onState.length), take(b, onState.length)])
    for (const got of [ga, gb]) {
      assert.deepEqual(got.map((e) => e.topic).sort(), onState.map(([t]) => t).sort())
      assert.ok(got.every((e) => e.name === 'MESSAGE_CREATE' && typeof e.data.id === 'string'))
    }
    // The dispatch-tree subscription saw none of them.
    const none = await Promise.race([plain.nextBatch(), new Promise((r) => setTimeout(() => r('quiet'), 200))])
    assert.equal(none, 'quiet')
  } finally {
    await client.close()
  }
})
