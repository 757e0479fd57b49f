'use strict'
// Bad patterns, bad ids, bad arguments and lost connections: clear messages and a stable
// `err.code`, and never a crashed process.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')

const fs = require('node:fs')
const path = require('node:path')

const ddiscord = require('..')
const { DDiscordError, codes } = ddiscord
const { startMosquitto, startRedis, freePort } = require('../testkit/servers')

let broker
let redis

before(async () => {
  ;[broker, redis] = await Promise.all([startMosquitto(), startRedis()])
})

after(async () => {
  await Promise.all([broker.close(), redis.close()])
})

function isCoded(code, pattern) {
  return (err) => {
    assert.ok(err instanceof DDiscordError, `expected a DDiscordError, got ${err && err.stack}`)
    assert.ok(err instanceof Error)
    assert.equal(err.code, code, err.message)
    if (pattern) assert.match(err.message, pattern)
    assert.doesNotMatch(err.message, /^\[DDISCORD_/)
    return true
  }
}

test('bad patterns throw DDISCORD_INVALID_PATTERN at once, naming the problem', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url })
  try {
    const cases = [
      ['discord//MESSAGE_CREATE', /level 2 is empty/],
      ['discord/*/*/MES*SAGE', /\*/],
      ['discord/>/x', />/],
      ['discord/+/#', /\+|#/],
      ['', /empty/],
      ['other/*/*/READY', /must start with `discord\/`/],
      ['discord-state/*/*/READY', /must start with `discord\/`/],
    ]
    for (const [pattern, message] of cases) {
      assert.throws(() => client.subscribe(pattern), isCoded(codes.INVALID_PATTERN, message), pattern)
    }
    assert.throws(() => client.subscribeState('other/>'), isCoded(codes.INVALID_PATTERN, /discord-state\//))
    assert.throws(() => client.subscribe(42), isCoded(codes.INVALID_ARGUMENT, /pattern must be a string/))
    // Both spellings of the state tree are accepted.
    await client.subscribeState('discord/*/*/GUILD_CREATE').ready
    await client.subscribeState('discord-state/*/*/GUILD_CREATE').ready
  } finally {
    await client.close()
  }
})

test('bad ids throw DDISCORD_INVALID_ID', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url, redisUrl: redis.url })
  try {
    for (const bad of ['abc', '0', '-5', '18446744073709551616', '', 2 ** 60, 1.5, null, {}]) {
      await assert.rejects(client.cache.guild(bad), isCoded(codes.INVALID_ID, /snowflake/), String(bad))
      assert.throws(() => client.shardFor(bad), isCoded(codes.INVALID_ID))
    }
    await assert.rejects(client.cache.member('81384788765712384', 'x1'), isCoded(codes.INVALID_ID, /user_id/))
    await assert.rejects(client.updateVoiceState('1', 'nope'), isCoded(codes.INVALID_ID, /channel_id/))
    assert.throws(() => client.requestGuildMembers('81384788765712384', { userIds: ['1', 'x'] }), isCoded(codes.INVALID_ID))
    // bigint and safe numbers are fine
    assert.equal(client.shardFor(81384788765712384n), 0)
    assert.equal(await client.cache.guild(81384788765712384n), null)
    assert.equal(await client.cache.user(12345), null)
  } finally {
    await client.close()
  }
})

test('bad commands and options throw with a stable code', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url, shards: 2 })
  try {
    await assert.rejects(client.sendCommand(0, 'IDENTIFY', {}), isCoded(codes.CONFIG, /unknown gateway command/))
    await assert.rejects(client.sendCommand(2, 'PRESENCE_UPDATE', {}), isCoded(codes.CONFIG, /shard 2 does not exist/))
    await assert.rejects(client.sendCommand(0, 'PRESENCE_UPDATE', 'x'), isCoded(codes.INVALID_ARGUMENT))
    await assert.rejects(client.sendCommand(-1, 'PRESENCE_UPDATE', {}), isCoded(codes.INVALID_ARGUMENT))
    await assert.rejects(client.cache.recentMessages('1', -1), isCoded(codes.INVALID_ARGUMENT))
    await assert.rejects(ddiscord.connect({ meshUrl: broker.url, shards: 0 }), isCoded(codes.CONFIG, /shard/))
    await assert.rejects(ddiscord.connect({ meshUrl: broker.url, topicRoot: 'a/b' }), isCoded(codes.CONFIG))
    await assert.rejects(ddiscord.connect({ meshUrl: 'http://nowhere' }), isCoded(codes.MESH))
    await assert.rejects(ddiscord.connect({ meshUrl: broker.url, shards: 'two' }), isCoded(codes.INVALID_ARGUMENT))
    await assert.rejects(ddiscord.connect('x'), isCoded(codes.INVALID_ARGUMENT))
  } finally {
    await client.close()
  }
})

test('connecting to a broker that is down fails with DDISCORD_TIMEOUT', async () => {
  const port = await freePort()
  const started = Date.now()
  await assert.rejects(
    ddiscord.connect({ meshUrl: `mqtt://127.0.0.1:${port}`, connectTimeoutMs: 300 }),
    isCoded(codes.TIMEOUT, /is the broker running/)
  )
  assert.ok(Date.now() - started < 5000)
})

test('Redis down: cache reads fail with DDISCORD_CACHE and work again after', async () => {
  const own = await startRedis()
  const client = await ddiscord.connect({ meshUrl: broker.url, redisUrl: own.url })
  try {
    assert.equal(await client.cache.user('1'), null)
    await own.kill()
    await assert.rejects(client.cache.user('1'), isCoded(codes.CACHE, /Redis/))
    await own.startAgain()
    let ok = false
    for (let i = 0; i < 50 && !ok; i++) {
      try {
        assert.equal(await client.cache.user('1'), null)
        ok = true
      } catch (e) {
        assert.equal(e.code, codes.CACHE)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    assert.ok(ok, 'cache reads work again once Redis is back')
  } finally {
    await client.close()
    await own.close()
  }
})

test('a lost mesh connection surfaces as DDISCORD_CONNECTION_LOST and the subscription continues', async () => {
  const own = await startMosquitto()
  const client = await ddiscord.connect({ meshUrl: own.url })
  try {
    const sub = client.subscribe('discord/>')
    await sub.ready
    await own.kill()
    await assert.rejects(
      (async () => {
        for await (const _ of sub) {
          // no events: the broker is gone
        }
      })(),
      isCoded(codes.CONNECTION_LOST, /connection to the event mesh lost/)
    )
    // The client reconnects and resubscribes; iterating again continues.
    await own.startAgain()
    const mqtt = require('mqtt')
    const pub = await mqtt.connectAsync(own.url, { reconnectPeriod: 0 })
    const topic = 'discord/0/-/READY'
    const body = '{"shard":0,"session":"s","received_ms":1,"op":0,"t":"READY","s":1,"d":{}}'
    const got = (async () => {
      for (;;) {
        try {
          for await (const ev of sub) return ev
        } catch (e) {
          assert.equal(e.code, codes.CONNECTION_LOST)
        }
      }
    })()
    // Publish until the resubscription is in place.
    let ev
    const timer = setInterval(() => pub.publish(topic, body), 100)
    try {
      ev = await got
    } finally {
      clearInterval(timer)
      await pub.endAsync()
    }
    assert.equal(ev.name, 'READY')
  } finally {
    await client.close()
    await own.close()
  }
})

test('using a closed client throws DDISCORD_CLOSED', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url, redisUrl: redis.url })
  await client.close()
  await client.close()
  await assert.rejects(client.subscribe('discord/>').ready, isCoded(codes.CLOSED))
  await assert.rejects(client.cache.user('1'), isCoded(codes.CLOSED))
  await assert.rejects(client.updatePresence({ status: 'idle' }), isCoded(codes.CLOSED))
})

test('error codes are the documented set', () => {
  assert.deepEqual(Object.values(codes).sort(), [
    'DDISCORD_CACHE',
    'DDISCORD_CLOSED',
    'DDISCORD_CONFIG',
    'DDISCORD_CONNECTION_LOST',
    'DDISCORD_CORRUPT_CACHE',
    'DDISCORD_DISCORD',
    'DDISCORD_GROUP',
    'DDISCORD_INTERNAL',
    'DDISCORD_INVALID_ARGUMENT',
    'DDISCORD_INVALID_ID',
    'DDISCORD_INVALID_PATTERN',
    'DDISCORD_MESH',
    'DDISCORD_PAYLOAD',
    'DDISCORD_RATE_LIMITED',
    'DDISCORD_TIMEOUT',
  ])
})

test('codes come from the native list of error kinds, and index.d.ts types each of them', () => {
  const kinds = ddiscord.errorKinds
  assert.deepEqual(Object.keys(codes), kinds.map((k) => k.code))
  for (const k of kinds) {
    assert.equal(codes[k.code], `DDISCORD_${k.code}`)
    assert.equal(k.nodeCode, codes[k.code])
    assert.match(k.pythonClass, /^[A-Z][A-Za-z]*Error$/)
    assert.ok(k.doc.length > 0)
  }
  const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8')
  const block = /export declare const codes: \{([^}]*)\}/.exec(dts)
  assert.ok(block, 'index.d.ts declares codes')
  const typed = [...block[1].matchAll(/readonly (\w+): '(DDISCORD_\w+)'/g)].map((m) => [m[1], m[2]])
  assert.deepEqual(typed, Object.entries(codes))
})

test('native errors carry their code themselves, with no prefix in the message', async () => {
  const native = require('../native.js')
  await assert.rejects(native.connect({ meshUrl: 'http://nowhere' }), (err) => {
    assert.ok(err instanceof Error)
    assert.ok(!(err instanceof DDiscordError))
    assert.equal(err.code, codes.MESH)
    assert.doesNotMatch(err.message, /^\[DDISCORD_/)
    return true
  })
})
