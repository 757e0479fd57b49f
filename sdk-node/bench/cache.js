'use strict'
// Cache-read latency of `client.cache.user`, `.member` and `.members` (100 by id) beside ioredis
// plus `JSON.parse` reading the same entities from the documented key layout (for a member: the
// member hash field and the user key in one pipeline), against the same private Redis holding
// the state worker's projection of the captured 9,593-member GUILD_CREATE, in the same run.
// Bounded: a few thousand reads each.
//
//   node bench/cache.js [reads=5000]
const Redis = require('ioredis')

const ddiscord = require('..')
const { startMosquitto, startRedis } = require('../testkit/servers')
const { LARGE_GUILD, load, sessionFrames, envelopes, project } = require('../testkit/session')

const N = Number(process.argv[2] || 5000)
const BATCH = 100

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b)
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  return { p50: q(0.5), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length }
}

async function timeEach(ids, read) {
  const out = []
  for (const id of ids) {
    const t = process.hrtime.bigint()
    const v = await read(id)
    out.push(Number(process.hrtime.bigint() - t) / 1000)
    if (!v) throw new Error(`no member ${id}`)
  }
  return stats(out)
}

async function throughput(ids, read, inFlight = 32) {
  const t = performance.now()
  let i = 0
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (i < ids.length) await read(ids[i++])
    })
  )
  return ids.length / ((performance.now() - t) / 1000)
}

async function compare(name, ids, sdk, plain) {
  // warm up both paths (connections, JIT)
  await timeEach(ids.slice(0, 300), sdk)
  await timeEach(ids.slice(0, 300), plain)
  const a = []
  const b = []
  for (let round = 0; round < 3; round++) {
    a.push(await timeEach(ids, sdk))
    b.push(await timeEach(ids, plain))
  }
  const med = (xs, k) => xs.map((x) => x[k]).sort((p, q) => p - q)[1]
  const sa = { p50: med(a, 'p50'), p99: med(a, 'p99'), mean: med(a, 'mean') }
  const sb = { p50: med(b, 'p50'), p99: med(b, 'p99'), mean: med(b, 'mean') }
  const f = (s) => `p50 ${s.p50.toFixed(1).padStart(7)} µs, p99 ${s.p99.toFixed(1).padStart(7)} µs`
  console.log(`${name}: ${ids.length} sequential reads per round, median of 3 rounds`)
  console.log(`  ddiscord                      ${f(sa)}`)
  console.log(`  ioredis + JSON.parse          ${f(sb)}`)
  console.log(`  ratio ddiscord/ioredis: p50 ${(sa.p50 / sb.p50).toFixed(2)}x, p99 ${(sa.p99 / sb.p99).toFixed(2)}x`)
}

async function main() {
  const [broker, redis] = await Promise.all([startMosquitto(), startRedis()])
  try {
    project(redis.url, envelopes(sessionFrames()))
    const members = load().large.d.members.map((m) => m.user.id)
    const ids = Array.from({ length: N }, (_, i) => members[(i * 7919) % members.length])
    const client = await ddiscord.connect({ meshUrl: broker.url, redisUrl: redis.url })
    const io = new Redis(redis.url)
    const membersKey = `dd:guild:${LARGE_GUILD}:members`

    await compare('user', ids, (u) => client.cache.user(u), async (u) => JSON.parse(await io.get(`dd:user:${u}`)))

    const sdk = (u) => client.cache.member(LARGE_GUILD, u)
    const plain = async (u) => {
      const [[, m], [, user]] = await io.pipeline().hget(membersKey, u).get(`dd:user:${u}`).exec()
      if (m === null) return null
      return { ...JSON.parse(m), user: JSON.parse(user) }
    }
    await compare('member', ids, sdk, plain)

    const batches = Array.from({ length: Math.max(50, N / 20) }, (_, i) =>
      Array.from({ length: BATCH }, (_, j) => members[(i * BATCH + j) % members.length])
    )
    await compare(
      `members (${BATCH} by id, one round trip)`,
      batches,
      (b) => client.cache.members(LARGE_GUILD, b),
      async (b) => {
        const [[, ms], [, us]] = await io.pipeline().hmget(membersKey, ...b).mget(b.map((u) => `dd:user:${u}`)).exec()
        return ms.map((m, i) => (m === null || us[i] === null ? null : { ...JSON.parse(m), user: JSON.parse(us[i]) }))
      }
    )

    const ta = await throughput(ids, sdk)
    const tb = await throughput(ids, plain)
    console.log(`member, 32 in flight: ddiscord ${ta.toFixed(0)} reads/s, ioredis ${tb.toFixed(0)} reads/s, ratio ${(ta / tb).toFixed(2)}x`)
    await client.close()
    io.disconnect()
  } finally {
    await Promise.all([broker.close(), redis.close()])
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
