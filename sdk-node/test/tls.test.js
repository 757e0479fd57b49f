'use strict'
// The SDK against servers that require TLS and a login, as production brokers (Solace Cloud's
// MQTT service) and Memorystore do: `ddiscord dev services --secured` starts a mosquitto whose
// only listener speaks TLS with a password file and a redis-server with only a TLS port and one
// ACL user, with certificates of a CA it generates. The client takes the credentials in its URLs
// and the CA from DDISCORD_MESH_CA_FILE and DDISCORD_REDIS_CA_FILE, as every DDiscord process
// does; stock clients (mqtt.js, ioredis) talk to the same servers beside it.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const mqtt = require('mqtt')
const Redis = require('ioredis')

const ddiscord = require('..')
const { startSecured } = require('../testkit/servers')
const { envelope } = require('../testkit/feed')

const USER = { id: '80351110224678912', username: 'nelly', discriminator: '0', global_name: 'Nelly', avatar: null }

let broker
let cache

before(async () => {
  broker = await startSecured('mosquitto')
  cache = await startSecured('redis')
  process.env.DDISCORD_MESH_CA_FILE = broker.ca_file
  process.env.DDISCORD_REDIS_CA_FILE = cache.ca_file
})

after(async () => {
  delete process.env.DDISCORD_MESH_CA_FILE
  delete process.env.DDISCORD_REDIS_CA_FILE
  await broker.close()
  await cache.close()
})

test('subscribe and read the cache over TLS with credentials', async () => {
  const plain = new Redis({
    host: '127.0.0.1',
    port: cache.port,
    username: cache.username,
    password: cache.password,
    tls: { ca: fs.readFileSync(cache.ca_file), servername: 'localhost' },
  })
  await plain.set(`dd:user:${USER.id}`, JSON.stringify(USER))
  const pub = await mqtt.connectAsync(`mqtts://127.0.0.1:${broker.port}`, {
    username: broker.username,
    password: broker.password,
    ca: fs.readFileSync(broker.ca_file),
    servername: 'localhost',
    reconnectPeriod: 0,
  })
  const client = await ddiscord.connect({ meshUrl: broker.url, redisUrl: cache.url })
  try {
    const sub = client.subscribe('discord/*/*/MESSAGE_CREATE')
    const frame = { op: 0, t: 'MESSAGE_CREATE', s: 7, d: { id: '1', content: 'over TLS' } }
    const it = sub[Symbol.asyncIterator]()
    // One read, awaited across the publishes: a read abandoned on a timeout would take the
    // event with it.
    const first = it.next()
    let next = null
    // Published until it arrives: the subscription may still be on its way to the broker.
    for (let i = 0; i < 50 && !next; i++) {
      await pub.publishAsync('discord/0/-/MESSAGE_CREATE', envelope(frame), { qos: 1 })
      next = await Promise.race([first, new Promise((r) => setTimeout(() => r(null), 500))])
    }
    const event = next && !next.done ? next.value : undefined
    assert.ok(event, 'nothing arrived over TLS')
    assert.equal(event.data.content, 'over TLS')
    assert.deepEqual(await client.cache.user(USER.id), USER)
  } finally {
    await client.close()
    await pub.endAsync()
    plain.disconnect()
  }
})

test('a wrong password or an untrusted CA says what to fix', async () => {
  const wrong = broker.url.replace(broker.password, 'not-the-password')
  await assert.rejects(ddiscord.connect({ meshUrl: wrong, redisUrl: cache.url }), (e) => {
    assert.match(e.message, /refused the credentials/)
    assert.doesNotMatch(e.message, /not-the-password/)
    return true
  })
  process.env.DDISCORD_MESH_CA_FILE = broker.untrusted_ca_file
  try {
    await assert.rejects(ddiscord.connect({ meshUrl: broker.url, redisUrl: cache.url }), (e) => {
      assert.match(e.message, /TLS handshake/)
      assert.ok(!e.message.includes(broker.password))
      return true
    })
  } finally {
    process.env.DDISCORD_MESH_CA_FILE = broker.ca_file
  }
})
