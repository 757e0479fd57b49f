'use strict'
// A stock Discord library against the simulator, with no patching: discord.js logs in with
// its own REST and gateway clients (pointed at the simulator through its documented `rest.api`
// option), receives READY and every GUILD_CREATE, and reads its application over REST.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { Client, GatewayIntentBits } = require('discord.js')

const { ddiscordBinary } = require('../testkit/pipeline')
const { freePort, fixturesDir } = require('../testkit/servers')

const GUILDS = 3

async function startSim() {
  const port = await freePort()
  const child = spawn(
    ddiscordBinary(),
    ['sim', '--bind', `127.0.0.1:${port}`, '--shards', '1', '--guilds', String(GUILDS), '--events-per-sec', '0'],
    { env: { ...process.env, DDISCORD_FIXTURES: fixturesDir() }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  // Ready once its HTTP side answers.
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/v10/gateway`)
      if (r.ok) break
    } catch {}
    if (Date.now() > deadline) throw new Error(`the simulator did not start:\n${out}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return { child, port }
}

test('discord.js logs in to the simulator and gets its guilds', { timeout: 60_000 }, async () => {
  const { child, port } = await startSim()
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMembers],
    rest: { api: `http://127.0.0.1:${port}/api` },
  })
  try {
    const ready = new Promise((resolve) => client.once('clientReady', resolve))
    await client.login('sim-token')
    const c = await ready
    assert.equal(c.user.username, 'ddiscord-sim')
    assert.equal(c.user.bot, true)
    // READY lists the guilds; discord.js waits for their GUILD_CREATEs before it is ready.
    assert.equal(c.guilds.cache.size, GUILDS)
    for (const guild of c.guilds.cache.values()) {
      assert.ok(guild.available, `guild ${guild.id} unavailable`)
      assert.ok(guild.members.cache.has(c.user.id), `the bot is not a member of ${guild.id}`)
      assert.ok(guild.members.cache.has(guild.ownerId), `the owner is not a member of ${guild.id}`)
      assert.equal(guild.members.cache.size, guild.memberCount)
    }
    const app = await c.application.fetch()
    assert.equal(app.id, c.user.id)
  } finally {
    await client.destroy()
    child.kill('SIGTERM')
  }
})
