'use strict'
// Cache reads equal what the state worker's projection wrote (read back raw with ioredis), and
// match the captured payloads.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const Redis = require('ioredis')

const ddiscord = require('..')
const { startMosquitto, startRedis } = require('../testkit/servers')
const { LARGE_GUILD, V10_GUILD_A, load, sessionFrames, envelopes, project } = require('../testkit/session')

let broker
let redis
let raw
let client
const fx = load()

before(async () => {
  ;[broker, redis] = await Promise.all([startMosquitto(), startRedis()])
  const outcomes = project(redis.url, envelopes(sessionFrames()), { DDISCORD_MESSAGE_CACHE: '10', DDISCORD_CACHE_PRESENCES: 'true' })
  assert.ok(outcomes.filter((o) => o === 'applied').length > 10, outcomes.join(','))
  raw = new Redis(redis.url)
  client = await ddiscord.connect({ meshUrl: broker.url, redisUrl: redis.url })
})

after(async () => {
  await client.close()
  raw.disconnect()
  await Promise.all([broker.close(), redis.close()])
})

const byId = (a, b) => (BigInt(a.id ?? a.user?.id ?? 0) < BigInt(b.id ?? b.user?.id ?? 0) ? -1 : 1)

test('guild, channels and roles equal the cache and the GUILD_CREATE', async () => {
  const guild = await client.cache.guild(LARGE_GUILD)
  assert.deepEqual(guild, JSON.parse(await raw.get(`dd:guild:${LARGE_GUILD}`)))
  assert.equal(guild.id, LARGE_GUILD)
  assert.equal(guild.name, fx.large.d.name)
  const channels = await client.cache.channels(LARGE_GUILD)
  const rawChannels = Object.values(await raw.hgetall(`dd:guild:${LARGE_GUILD}:channels`)).map((v) => JSON.parse(v))
  assert.deepEqual(channels.sort(byId), rawChannels.sort(byId))
  assert.deepEqual(channels.map((c) => c.id).sort(), fx.large.d.channels.map((c) => c.id).sort())
  const roles = await client.cache.roles(LARGE_GUILD)
  assert.equal(roles.length, fx.large.d.roles.length)
  const someRole = fx.large.d.roles[3]
  const role = await client.cache.role(LARGE_GUILD, someRole.id)
  assert.deepEqual(role, JSON.parse(await raw.hget(`dd:guild:${LARGE_GUILD}:roles`, someRole.id)))
  assert.equal(role.name, someRole.name)
  const channel = await client.cache.channel(fx.large.d.channels[0].id)
  assert.equal(channel.id, fx.large.d.channels[0].id)
  assert.equal(channel.guild_id, LARGE_GUILD)
  const full = await client.cache.guildWithCollections(LARGE_GUILD)
  const { roles: fullRoles, channels: fullChannels, emojis: fullEmojis, ...bare } = full
  assert.deepEqual(bare, guild)
  assert.deepEqual(fullChannels.sort(byId), rawChannels.sort(byId))
  assert.deepEqual(fullRoles.sort(byId), roles.sort(byId))
  const rawEmojis = Object.values(await raw.hgetall(`dd:guild:${LARGE_GUILD}:emojis`)).map((v) => JSON.parse(v))
  assert.deepEqual(fullEmojis.sort(byId), rawEmojis.sort(byId))
  assert.equal(await client.cache.guildWithCollections('1'), null)
  const state = await client.cache.guildState(LARGE_GUILD)
  assert.equal(state.complete, true)
  assert.equal(state.shard, 0)
})

test('members and users equal the cache, one and many at a time', async () => {
  const withRoles = fx.large.d.members.filter((m) => m.roles.length > 1).slice(0, 20)
  for (const m of withRoles.slice(0, 5)) {
    const member = await client.cache.member(LARGE_GUILD, m.user.id)
    const stored = JSON.parse(await raw.hget(`dd:guild:${LARGE_GUILD}:members`, m.user.id))
    const user = JSON.parse(await raw.get(`dd:user:${m.user.id}`))
    assert.deepEqual(member, { ...stored, user })
    assert.deepEqual(member.roles.sort(), [...m.roles].sort())
    assert.equal(member.user.username, m.user.username)
    assert.deepEqual(await client.cache.user(m.user.id), user)
  }
  // A field Discord adds before any library knows it reaches the reader unchanged.
  const first = withRoles[0].user.id
  const storedUser = await raw.get(`dd:user:${first}`)
  await raw.set(`dd:user:${first}`, JSON.stringify({ ...JSON.parse(storedUser), a_future_field: { x: [1, 2] } }))
  assert.deepEqual((await client.cache.member(LARGE_GUILD, first)).user.a_future_field, { x: [1, 2] })
  await raw.set(`dd:user:${first}`, storedUser)
  const ids = withRoles.map((m) => m.user.id)
  const many = await client.cache.members(LARGE_GUILD, [...ids, '1'])
  assert.equal(many.length, ids.length + 1)
  assert.equal(many.at(-1), null)
  for (let i = 0; i < ids.length; i++) assert.deepEqual(many[i], await client.cache.member(LARGE_GUILD, ids[i]))
  const memberIds = await client.cache.memberIds(LARGE_GUILD)
  assert.deepEqual(memberIds.sort(), (await raw.hkeys(`dd:guild:${LARGE_GUILD}:members`)).sort())
})

test('voice states, presences, messages and the current user equal the cache', async () => {
  const vs = await client.cache.voiceStates(V10_GUILD_A)
  const rawVs = Object.values(await raw.hgetall(`dd:guild:${V10_GUILD_A}:voice_states`)).map((v) => JSON.parse(v))
  assert.deepEqual(vs.sort(byId), rawVs.sort(byId))
  for (const v of rawVs) assert.deepEqual(await client.cache.voiceState(V10_GUILD_A, v.user_id), v)
  const presenceUser = Object.keys(await raw.hgetall(`dd:guild:${LARGE_GUILD}:presences`))[0]
  if (presenceUser) {
    assert.deepEqual(
      await client.cache.presence(LARGE_GUILD, presenceUser),
      JSON.parse(await raw.hget(`dd:guild:${LARGE_GUILD}:presences`, presenceUser))
    )
  }
  const me = await client.cache.currentUser()
  assert.deepEqual(me, JSON.parse(await raw.get('dd:user:@me')))
  assert.equal(me.id, fx.ready.d.user.id)
  const created = fx.v10.find((f) => f.t === 'MESSAGE_CREATE')
  const messages = await client.cache.recentMessages(created.d.channel_id, 5)
  const ids = await raw.lrange(`dd:channel:${created.d.channel_id}:messages`, 0, 4)
  assert.deepEqual(messages.map((m) => m.id), ids)
  assert.ok(ids.length >= 1)
})

test('missing entities are null or empty', async () => {
  assert.equal(await client.cache.guild('1'), null)
  assert.equal(await client.cache.member(LARGE_GUILD, '1'), null)
  assert.equal(await client.cache.guildState('1'), null)
  assert.deepEqual(await client.cache.roles('1'), [])
  assert.deepEqual(await client.cache.recentMessages('1', 0), [])
})

test('a corrupt cache value is DDISCORD_CORRUPT_CACHE, not a half-read object', async () => {
  await raw.set('dd:user:42', '{"id": 42')
  await assert.rejects(client.cache.user('42'), (e) => e.code === ddiscord.codes.CORRUPT_CACHE && /dd:user:42/.test(e.message))
})
