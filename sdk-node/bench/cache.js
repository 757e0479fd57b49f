'use strict'
// Cache-read latency of `client.cache.member(guild, user)` beside ioredis plus `JSON.parse`
// reading the same entity from the documented key layout (member hash field and user key, in one
// pipeline), against the same private Redis holding the state worker's projection of the
// captured 9,593-member GUILD_CREATE, in the same run. Bounded: a few thousand reads each.
//
//   node bench/cache.js [reads=5000]
const Redis = require('ioredis')

const ddiscord = require('..')
const { startMosquitto, startRedis } = require('../testkit/servers')
const { LARGE_GUILD, load, sessionFrames, envelopes, project } = require('../testkit/session')

const N = Number(process.argv[2] || 5000)

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

async function main() {
  const [broker, redis] = await Promise.all([startMosquitto(), startRedis()])
  try {
    project(redis.url, envelopes(sessionFrames()))
    const members = load().large.d.members.map((m) => m.user.id)
    const ids = Array.from({ length: N }, (_, i) => members[(i * 7919) % members.length])
    const client = await ddiscord.connect({ meshUrl: broker.url, redisUrl: redis.url })
    const io = new Redis(redis.url)
    const sdk = (u) => client.cache.member(LARGE_GUILD, u)
    const plain = async (u) => {
      const [[, m], [, user]] = await io.pipeline().hget(`dd:guild:${LARGE_GUILD}:members`, u).get(`dd:user:${u}`).exec()
      if (m === null) return null
      return { ...JSON.parse(m), user: JSON.parse(user) }
    }
    // warm up both paths (connections, JIT)
    await timeEach(ids.slice(0, 500), sdk)
    await timeEach(ids.slice(0, 500), plain)
    const rounds = [0, 1, 2].map(() => null)
    const a = []
    const b = []
    for (const _ of rounds) {
      a.push(await timeEach(ids, sdk))
      b.push(await timeEach(ids, plain))
    }
    const med = (xs, k) => xs.map((x) => x[k]).sort((p, q) => p - q)[1]
    const sa = { p50: med(a, 'p50'), p99: med(a, 'p99'), mean: med(a, 'mean') }
    const sb = { p50: med(b, 'p50'), p99: med(b, 'p99'), mean: med(b, 'mean') }
    const f = (s) => `p50 ${s.p50.toFixed(1)} µs, p99 ${s.p99.toFixed(1)} µs, mean ${s.mean.toFixed(1)} µs`
    console.log(`member reads, ${N} sequential per round, median of 3 rounds`)
    console.log(`  ddiscord cache.member        ${f(sa)}`)
    console.log(`  ioredis pipeline + JSON.parse ${f(sb)}`)
    console.log(`  latency ratio ddiscord/ioredis: p50 ${(sa.p50 / sb.p50).toFixed(2)}x, mean ${(sa.mean / sb.mean).toFixed(2)}x`)
    const ta = await throughput(ids, sdk)
    const tb = await throughput(ids, plain)
    console.log(`  32 in flight: ddiscord ${ta.toFixed(0)} reads/s, ioredis ${tb.toFixed(0)} reads/s, ratio ${(ta / tb).toFixed(2)}x`)
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
