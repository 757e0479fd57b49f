'use strict'
// The `ddiscord` binary (built by cargo from cli/) for tests: `ddiscord state-worker` consuming
// from a test's Mosquitto and writing a test's Redis, and `ddiscord project` (testkit/session.js).
const { spawn, spawnSync } = require('node:child_process')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')

const { freePort, repo } = require('./servers')

const target = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'ddiscord', 'target')
let built = false

/** The `ddiscord` binary (`cargo build -p ddiscord-cli`, incremental). */
function ddiscordBinary() {
  if (!built) {
    const r = spawnSync('cargo', ['build', '--quiet', '-p', 'ddiscord-cli'], {
      cwd: repo,
      env: { ...process.env, CARGO_TARGET_DIR: target },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    if (r.status !== 0) throw new Error('building the ddiscord binary failed; see the cargo output')
    built = true
  }
  return path.join(target, 'debug', 'ddiscord')
}

function get(url) {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        res.resume()
        resolve(res.statusCode)
      })
      .on('error', () => resolve(0))
  })
}

/** Starts `ddiscord state-worker`; resolves once `/readyz` answers 200. `.stop()` ends it. */
async function startStateWorker({ meshUrl, redisUrl, shards = 1, messageCache = 10 }) {
  const port = await freePort()
  let stderr = ''
  const child = spawn(
    ddiscordBinary(),
    ['state-worker', '--http-addr', `127.0.0.1:${port}`, '--lease-ttl-ms', '2000', '--message-cache', String(messageCache)],
    {
      env: { ...process.env, DDISCORD_MESH_URL: meshUrl, DDISCORD_REDIS_URL: redisUrl, DDISCORD_SHARDS: String(shards), RUST_LOG: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    }
  )
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.on('exit', resolve))
  const deadline = Date.now() + 20_000
  while ((await get(`http://127.0.0.1:${port}/readyz`)) !== 200) {
    if (child.exitCode !== null) throw new Error(`state-worker exited: ${stderr}`)
    if (Date.now() > deadline) throw new Error(`state-worker not ready within 20 s: ${stderr}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await exited
      }
    },
    get stderr() {
      return stderr
    },
  }
}

module.exports = { startStateWorker, ddiscordBinary }
