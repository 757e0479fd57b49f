'use strict'
// A consistent gateway session assembled from the captured fixtures (as the workers' tests
// do): READY listing the guilds, their GUILD_CREATEs, then the other dispatches, numbered.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { fixturesDir, fixtureEvents } = require('./servers')
const { envelope, topicOf } = require('./feed')
const { ddiscordBinary } = require('./pipeline')

const LARGE_GUILD = '81384788765712384'
const V10_GUILD_A = '900000000000000008'
const V10_GUILD_B = '900000000000000034'

function load() {
  const v10 = fixtureEvents('events_v10.jsonl')
  const v6 = fixtureEvents('events_v6_upgraded.jsonl')
  const large = JSON.parse(fs.readFileSync(path.join(fixturesDir(), 'guild_create_large.json'), 'utf8'))
  return { v10, v6, large, ready: v10.find((f) => f.t === 'READY') }
}

/** The frames of one session: READY, the GUILD_CREATEs, the other dispatches. */
function sessionFrames(sessionId = 'session-1') {
  const f = load()
  const guilds = [LARGE_GUILD, V10_GUILD_A, V10_GUILD_B]
  const ready = structuredClone(f.ready)
  ready.d.session_id = sessionId
  ready.d.guilds = guilds.map((id) => ({ id, unavailable: true }))
  const creates = [f.large, ...guilds.slice(1).map((g) => f.v10.find((x) => x.t === 'GUILD_CREATE' && x.d.id === g))]
  const rest = [...f.v6, ...f.v10].filter((x) => x.op === 0 && x.t !== 'READY' && x.t !== 'GUILD_CREATE')
  return [ready, ...creates, ...rest]
}

/** `[topic, envelope]` pairs of `frames` for `shard`, numbered from `first`. */
function envelopes(frames, { shard = 0, session = 'session-1', first = 1 } = {}) {
  return frames.map((frame, i) => {
    const f = { ...frame, s: first + i }
    return [topicOf(f, { shard }), envelope(JSON.stringify(f), { shard, session })]
  })
}

/**
 * Applies envelopes to Redis with the state worker's projection (`ddiscord project`); returns
 * one outcome per envelope (`applied`, `duplicate`, `skipped`, `rejected: …`).
 */
function project(redisUrl, pairs, env = {}) {
  const input = pairs.map(([, e]) => e).join('\n') + '\n'
  const r = spawnSync(ddiscordBinary(), ['project'], {
    input,
    env: { ...process.env, DDISCORD_REDIS_URL: redisUrl, ...env },
    maxBuffer: 64 << 20,
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`projection failed: ${r.stderr}`)
  return r.stdout.trim().split('\n')
}

module.exports = { LARGE_GUILD, V10_GUILD_A, V10_GUILD_B, load, sessionFrames, envelopes, project }
