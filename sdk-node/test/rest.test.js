'use strict'
// `client.rest` against the simulator (`ddiscord sim`): examples/node/rest.js deletes a message
// and adds a role, and the simulator's own REST API shows both.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')

const { ddiscordBinary } = require('../testkit/pipeline')
const { startMosquitto, startRedis, freePort, fixturesDir } = require('../testkit/servers')
const { runExample } = require('../testkit/examples')

async function startSim() {
  const port = await freePort()
  const child = spawn(
    ddiscordBinary(),
    ['sim', '--bind', `127.0.0.1:${port}`, '--guilds', '2', '--events-per-sec', '0'],
    { env: { ...process.env, DDISCORD_FIXTURES: fixturesDir() }, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const r = await fetch(`${url}/api/v10/gateway`)
      if (r.ok) break
    } catch {}
    if (Date.now() > deadline) throw new Error(`the simulator did not start:\n${err}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const get = async (path) => {
    const r = await fetch(url + path, { headers: { Authorization: 'Bot sim-token' } })
    return [r.status, await r.json()]
  }
  return { child, url, get }
}

test('rest.js deletes a message and adds a role, and the simulator shows both', { timeout: 60_000 }, async () => {
  const broker = await startMosquitto()
  const redis = await startRedis()
  const sim = await startSim()
  try {
    const [, me] = await sim.get('/api/v10/users/@me')
    const [, guilds] = await sim.get('/api/v10/users/@me/guilds')
    let picked = null
    for (const { id: guildId } of guilds) {
      const [, guild] = await sim.get(`/api/v10/guilds/${guildId}`)
      const [, channels] = await sim.get(`/api/v10/guilds/${guildId}/channels`)
      const [, members] = await sim.get(`/api/v10/guilds/${guildId}/members?limit=100`)
      const text = channels.filter((c) => c.type === 0).map((c) => c.id)
      const roles = guild.roles.map((r) => r.id).filter((r) => r !== guildId)
      const users = members.map((m) => m.user.id).filter((u) => u !== me.id)
      if (text.length && roles.length && users.length) {
        picked = [text[0], guildId, users[0], roles[0]]
        break
      }
    }
    assert.ok(picked, 'a guild with a text channel, a role and a member')
    const [channel, guildId, user, role] = picked
    const run = runExample(
      'rest.js',
      {
        DDISCORD_MESH_URL: broker.url,
        DDISCORD_REDIS_URL: redis.url,
        DISCORD_TOKEN: 'sim-token',
        DDISCORD_REST_URL: sim.url,
      },
      picked,
    )
    const line = await run.waitFor(/^\{/)
    assert.equal(await run.exited, 0)
    const result = JSON.parse(line)
    assert.ok(result.roles.includes(role))
    const [status, body] = await sim.get(`/api/v10/channels/${channel}/messages/${result.deleted}`)
    assert.deepEqual([status, body.code], [404, 10008])
    const [, member] = await sim.get(`/api/v10/guilds/${guildId}/members/${user}`)
    assert.ok(member.roles.includes(role))
  } finally {
    sim.child.kill()
    await redis.close()
    await broker.close()
  }
})
