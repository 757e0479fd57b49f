'use strict'
// Work queues in process: ack, nack and redelivery, dead letters, bad input. (Replicas sharing
// a queue and a killed replica: examples.test.js runs examples/node/work_queue.js.)
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const mqtt = require('mqtt')

const ddiscord = require('..')
const { startMosquitto, startRedis } = require('../testkit/servers')
const { publisher, publishAll, envelope } = require('../testkit/feed')
const { load } = require('../testkit/session')

let broker
let redis
let pub
const template = load().v10.find((f) => f.t === 'MESSAGE_CREATE')
const GUILDS = ['81384788765712384', '900000000000000008', '900000000000000034', '244567637332328449']

// `n` MESSAGE_CREATEs with ids from `first`, spread over 4 shards and 4 guilds.
function messages(first, n) {
  return Array.from({ length: n }, (_, i) => {
    const id = String(first + i)
    const shard = i % 4
    const guild = GUILDS[i % 4]
    const frame = { ...template, s: first + i, d: { ...template.d, id, guild_id: guild } }
    return [`discord/${shard}/${guild}/MESSAGE_CREATE`, envelope(frame, { shard })]
  })
}

before(async () => {
  ;[broker, redis] = await Promise.all([startMosquitto(), startRedis()])
  pub = await publisher(broker.url)
})

after(async () => {
  await pub.endAsync()
  await Promise.all([broker.close(), redis.close()])
})

async function until(pred, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('nack delivers a job again, ack settles it; jobs are batched', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url, redisUrl: redis.url, shards: 4 })
  try {
    const queue = client.consume('nack-test', 'discord/*/*/MESSAGE_CREATE', { retryDelayMs: 50, maxDeliveries: 3, leaseTtlMs: 2000 })
    assert.equal(await queue.ready, queue)
    assert.ok(queue instanceof ddiscord.WorkQueue)
    const batch = messages(3_000_000, 8)
    await publishAll(pub, batch)
    const deliveries = new Map()
    for await (const job of queue) {
      assert.ok(job instanceof ddiscord.Job)
      const id = job.data.id
      const n = (deliveries.get(id) ?? 0) + 1
      deliveries.set(id, n)
      assert.equal(job.deliveries, n)
      if (id === '3000000' && n === 1) job.nack()
      else await job.ack()
      if (deliveries.size === 8 && deliveries.get('3000000') === 2) break
    }
    assert.equal(deliveries.get('3000001'), 1)
    assert.deepEqual((await queue.partitions()).length >= 0, true)
  } finally {
    await client.close()
  }
})

test('a job nacked maxDeliveries times goes to the dead-letter topic', async () => {
  const dead = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 })
  const letters = []
  dead.on('message', (topic, payload) => letters.push([topic, payload.toString()]))
  await dead.subscribeAsync('discord-dead/dead-test/#', { qos: 1 })
  const client = await ddiscord.connect({ meshUrl: broker.url, redisUrl: redis.url, shards: 4 })
  try {
    const queue = client.consume('dead-test', 'discord/*/*/MESSAGE_CREATE', { retryDelayMs: 20, maxDeliveries: 2, leaseTtlMs: 2000 })
    await queue.ready
    const [msg] = messages(4_000_000, 1)
    await publishAll(pub, [msg])
    const it = queue[Symbol.asyncIterator]()
    for (let i = 0; i < 2; i++) {
      const { value: job } = await it.next()
      assert.equal(job.data.id, '4000000')
      job.nack()
    }
    await until(() => letters.length > 0, 'a dead letter', 10_000)
    assert.equal(letters[0][0], 'discord-dead/dead-test/0')
    assert.equal(JSON.parse(letters[0][1]).d.id, '4000000')
    await it.return()
  } finally {
    await client.close()
    await dead.endAsync()
  }
})

test('bad group names and patterns are errors with a code', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url, redisUrl: redis.url })
  try {
    assert.throws(() => client.consume('g', 'discord//x'), (e) => e.code === ddiscord.codes.INVALID_PATTERN)
    await assert.rejects(client.consume('bad name!', 'discord/*/*/READY').ready, (e) => e.code === ddiscord.codes.GROUP || e.code === ddiscord.codes.CONFIG)
    await assert.rejects(client.consume('g', 'discord/0/*/READY').ready, (e) => e.code === ddiscord.codes.GROUP || e.code === ddiscord.codes.CONFIG)
  } finally {
    await client.close()
  }
})
