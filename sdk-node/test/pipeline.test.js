'use strict'
// With the state worker running (`ddiscord state-worker`): dispatches published on the
// dispatch tree, as ingest publishes them, are projected into Redis and republished on the
// state tree; a `subscribeState` loop then reads their effect from the cache.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')

const ddiscord = require('..')
const { startMosquitto, startRedis } = require('../testkit/servers')
const { publisher, publishAll, envelope, topicOf } = require('../testkit/feed')
const { LARGE_GUILD, V10_GUILD_A, load, sessionFrames, envelopes } = require('../testkit/session')
const { startStateWorker } = require('../testkit/pipeline')

let broker
let redis
let worker
let pub
let client
const fx = load()

before(async () => {
  ;[broker, redis] = await Promise.all([startMosquitto(), startRedis()])
  worker = await startStateWorker({ meshUrl: broker.url, redisUrl: redis.url })
  pub = await publisher(broker.url)
  client = await ddiscord.connect({ meshUrl: broker.url, redisUrl: redis.url })
})

after(async () => {
  await client.close()
  await pub.endAsync()
  await worker.stop()
  await Promise.all([broker.close(), redis.close()])
})

test('subscribeState sees each event after its effect is in the cache', async () => {
  const session = envelopes(sessionFrames('session-1'), { session: 'session-1' })
  const creates = client.subscribeState('discord/*/*/GUILD_CREATE')
  await creates.ready
  await publishAll(pub, session)
  // Each GUILD_CREATE on the state tree finds its guild, channels and members cached.
  const seen = new Set()
  for await (const event of creates) {
    const guild = await client.cache.guild(event.guildId)
    assert.ok(guild, `guild ${event.guildId} is cached when its GUILD_CREATE arrives on the state tree`)
    assert.equal(guild.id, event.data.id)
    const channels = await client.cache.channels(event.guildId)
    assert.equal(channels.length, event.data.channels.length + (event.data.threads ?? []).length)
    seen.add(event.guildId)
    if (seen.size === 3) break
  }
  assert.ok(seen.has(LARGE_GUILD) && seen.has(V10_GUILD_A))

  // A member added now is readable as soon as its GUILD_MEMBER_ADD reaches the state tree.
  const adds = client.subscribeState('discord/*/*/GUILD_MEMBER_ADD')
  await adds.ready
  const user = { id: '400000000000000001', username: 'pipeline_user', discriminator: '0', avatar: null }
  const frame = {
    op: 0,
    t: 'GUILD_MEMBER_ADD',
    s: session.length + 1,
    d: { guild_id: LARGE_GUILD, user, roles: [fx.large.d.roles[1].id], joined_at: '2026-11-21T10:00:00.000000+00:00', deaf: false, mute: false, flags: 0 },
  }
  assert.equal(await client.cache.member(LARGE_GUILD, user.id), null)
  await publishAll(pub, [[topicOf(frame), envelope(frame, { session: 'session-1' })]])
  for await (const event of adds) {
    assert.equal(event.topic, `discord-state/0/${LARGE_GUILD}/GUILD_MEMBER_ADD`)
    const member = await client.cache.member(LARGE_GUILD, user.id)
    assert.ok(member, 'the member is cached when the event arrives on the state tree')
    assert.deepEqual(member.roles, [fx.large.d.roles[1].id])
    assert.equal(member.user.username, 'pipeline_user')
    break
  }
})
