'use strict'
// A client that is garbage-collected or never closed releases its connections without
// crashing the process.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, spawn } = require('node:child_process')
const path = require('node:path')

const { startMosquitto, startRedis } = require('../testkit/servers')

let broker
let redis

before(async () => {
  ;[broker, redis] = await Promise.all([startMosquitto(), startRedis()])
})

after(async () => {
  await Promise.all([broker.close(), redis.close()])
})

// Established TCP connections to the broker (clients on this machine).
function connectedClients() {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( dport = :${broker.port} )`]).toString()
  return out.split('\n').filter((l) => l.trim()).length
}

function runNode(code, args = []) {
  const child = spawn(process.execPath, [...args, '-e', code], {
    cwd: path.join(__dirname, '..'),
    env: { ...process.env, MESH_URL: broker.url, REDIS_URL: redis.url },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out, err })))
  return { child, exited, out: () => out }
}

async function until(pred, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

test('garbage-collected clients release their broker connections, cache reads too', async () => {
  const baseline = connectedClients()
  const script = `
    const ddiscord = require('./index.js')
    ;(async () => {
      for (let i = 0; i < 3; i++) {
        const c = await ddiscord.connect({ meshUrl: process.env.MESH_URL, redisUrl: process.env.REDIS_URL })
        await c.subscribe('discord/>').ready
        if ((await c.cache.user('1')) !== null) throw new Error('user 1 is not cached')
      }
      console.log('connected')
      process.stdin.once('data', async () => {
        for (let i = 0; i < 10; i++) { global.gc(); await new Promise((r) => setTimeout(r, 50)) }
        console.log('collected')
        process.stdin.once('data', () => process.exit(0))
      })
    })()
  `
  const p = runNode(script, ['--expose-gc'])
  await until(() => p.out().includes('connected'), 'the clients to connect')
  await until(async () => (await connectedClients()) >= baseline + 3, '3 more broker clients')
  p.child.stdin.write('gc\n')
  await until(() => p.out().includes('collected'), 'garbage collection')
  await until(async () => (await connectedClients()) <= baseline, 'the collected clients to disconnect')
  p.child.stdin.write('exit\n')
  const r = await p.exited
  assert.equal(r.code, 0, r.err)
})

test('a process that never closes its client exits cleanly', async () => {
  const script = `
    const ddiscord = require('./index.js')
    ;(async () => {
      const c = await ddiscord.connect({ meshUrl: process.env.MESH_URL })
      await c.subscribe('discord/>').ready
      c.cache // touch
      console.log('done')
    })()
  `
  const r = await runNode(script).exited
  assert.equal(r.code, 0, r.err)
  assert.equal(r.signal, null)
  assert.match(r.out, /done/)
  assert.doesNotMatch(r.err, /panic|fatal/i)
})

test('a pending cache read keeps the process alive until it is answered, then lets it exit', async () => {
  const script = `
    const ddiscord = require('./index.js')
    ;(async () => {
      const c = await ddiscord.connect({ meshUrl: process.env.MESH_URL, redisUrl: process.env.REDIS_URL })
      c.cache.members('1', ['2', '3']).then((m) => console.log('answered', JSON.stringify(m)))
    })()
  `
  const r = await runNode(script).exited
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /answered \[null,null\]/)
  assert.doesNotMatch(r.err, /panic|fatal/i)
})

test('process.exit during a for-await loop exits cleanly', async () => {
  const script = `
    const ddiscord = require('./index.js')
    ;(async () => {
      const c = await ddiscord.connect({ meshUrl: process.env.MESH_URL })
      const sub = c.subscribe('discord/>')
      await sub.ready
      setTimeout(() => process.exit(0), 200)
      for await (const _ of sub) {}
    })()
  `
  const r = await runNode(script).exited
  assert.equal(r.code, 0, r.err)
  assert.doesNotMatch(r.err, /panic|fatal/i)
})
