'use strict'
// Interactions over HTTP: `ddiscord interactions` publishes a signed interaction as
// INTERACTION_CREATE, a script answers it with `replyInteraction`, and the HTTP answer is that
// reply; without one it is a deferral. Requests are signed here with Node's own Ed25519.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { spawn } = require('node:child_process')

const ddiscord = require('..')
const { DDiscordError, codes } = ddiscord
const { startMosquitto, freePort, binary } = require('../testkit/servers')

const DEADLINE_MS = 1500
let broker
let endpoint
let url
const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519')

before(async () => {
  broker = await startMosquitto()
  const port = await freePort()
  const ops = await freePort()
  const publicHex = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('hex')
  endpoint = spawn(binary(), ['interactions'], {
    env: {
      ...process.env,
      DISCORD_PUBLIC_KEY: publicHex,
      DDISCORD_MESH_URL: broker.url,
      DDISCORD_INTERACTIONS_ADDR: `127.0.0.1:${port}`,
      DDISCORD_HTTP_ADDR: `127.0.0.1:${ops}`,
      DDISCORD_INTERACTIONS_DEADLINE_MS: String(DEADLINE_MS),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  url = `http://127.0.0.1:${port}/interactions`
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${ops}/readyz`)
      if (r.status === 200) break
    } catch {}
    assert.ok(Date.now() < deadline, 'the endpoint never became ready')
    await new Promise((r) => setTimeout(r, 50))
  }
})

after(async () => {
  endpoint.kill('SIGTERM')
  await new Promise((r) => endpoint.once('exit', r))
  await broker.close()
})

async function send(interaction) {
  const body = JSON.stringify(interaction)
  const timestamp = String(Math.floor(Date.now() / 1000))
  const signature = crypto.sign(null, Buffer.from(timestamp + body), privateKey).toString('hex')
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp },
    body,
  })
  return { status: r.status, body: await r.text() }
}

const command = (id, name) => ({ id, application_id: '11', type: 2, token: 't', version: 1, guild_id: '81384788765712384', data: { id: '12', name, type: 1 } })

test('a script answers an interaction with replyInteraction; an unanswered one is deferred', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url })
  try {
    const sub = client.subscribe('discord/*/*/INTERACTION_CREATE')
    const script = (async () => {
      for await (const event of sub) {
        if (event.data.data.name === 'silent') continue
        await client.replyInteraction(event.data.id, { type: 4, data: { content: `pong ${event.data.id}` } })
      }
    })()
    const answered = await send(command('700000000000000001', 'ping'))
    assert.equal(answered.status, 200, answered.body)
    assert.deepEqual(JSON.parse(answered.body), { type: 4, data: { content: 'pong 700000000000000001' } })

    const started = Date.now()
    const deferred = await send(command('700000000000000002', 'silent'))
    assert.deepEqual(JSON.parse(deferred.body), { type: 5 })
    assert.ok(Date.now() - started >= DEADLINE_MS - 50)
    sub.close()
    await script
  } finally {
    await client.close()
  }
})

test('replyInteraction checks its arguments at once', async () => {
  const client = await ddiscord.connect({ meshUrl: broker.url })
  try {
    await assert.rejects(client.replyInteraction('0', { type: 4 }), (e) => e instanceof DDiscordError && e.code === codes.INVALID_ID)
    await assert.rejects(client.replyInteraction('1', { data: {} }), (e) => e instanceof DDiscordError && e.code === codes.INVALID_ARGUMENT)
  } finally {
    await client.close()
  }
})
