'use strict'
// Real servers for tests, as the Rust testkit does: a private mosquitto (with the shipped
// config) and a private redis-server, each on a free loopback port with its own directory.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const repo = path.resolve(__dirname, '..', '..')

function findBinary(name, envVar) {
  if (process.env[envVar]) return process.env[envVar]
  const dirs = (process.env.PATH || '').split(path.delimiter).concat(['/usr/sbin', '/usr/local/sbin', '/usr/bin'])
  for (const dir of dirs) {
    const p = path.join(dir, name)
    if (fs.existsSync(p)) return p
  }
  throw new Error(`${name} not found on PATH; run scripts/test, which installs it, or set ${envVar}`)
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function waitReady(name, port, log) {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`${name} did not accept connections on 127.0.0.1:${port} within 10 s; see ${log}`)
}

class Server {
  constructor(name, binary, args, port, dir) {
    Object.assign(this, { name, binary, args, port, dir, child: null })
  }

  async spawn() {
    const log = path.join(this.dir, 'server.log')
    const fd = fs.openSync(log, 'a')
    this.child = spawn(this.binary, this.args, { cwd: this.dir, stdio: ['ignore', fd, fd] })
    fs.closeSync(fd)
    await waitReady(this.name, this.port, log)
  }

  async stopWith(signal) {
    const child = this.child
    this.child = null
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill(signal)
    await exited
  }

  /** Stops gracefully (SIGTERM). */
  stop() {
    return this.stopWith('SIGTERM')
  }

  /** Kills (SIGKILL). */
  kill() {
    return this.stopWith('SIGKILL')
  }

  /** Starts again on the same port with the same directory. */
  startAgain() {
    return this.spawn()
  }

  async close() {
    await this.kill()
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

function shippedMosquittoConf() {
  for (const p of ['k8s/overlays/self-contained/mosquitto/mosquitto.conf', 'config/mosquitto.conf']) {
    const full = path.join(repo, p)
    if (fs.existsSync(full)) return fs.readFileSync(full, 'utf8')
  }
  throw new Error('no shipped mosquitto.conf (config/mosquitto.conf) in the repository')
}

/** A private mosquitto with the shipped config. `.url` is `mqtt://127.0.0.1:<port>`. */
async function startMosquitto() {
  const binary = findBinary('mosquitto', 'DDISCORD_MOSQUITTO')
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddiscord-node-mosquitto-'))
  const conf = `${shippedMosquittoConf()}\nlistener ${port} 127.0.0.1\npersistence_location ${dir}/\n`
  fs.writeFileSync(path.join(dir, 'mosquitto.conf'), conf)
  const s = new Server('mosquitto', binary, ['-c', path.join(dir, 'mosquitto.conf')], port, dir)
  s.url = `mqtt://127.0.0.1:${port}`
  await s.spawn()
  return s
}

/** A private redis-server without persistence. `.url` is `redis://127.0.0.1:<port>`. */
async function startRedis() {
  const binary = findBinary('redis-server', 'DDISCORD_REDIS_SERVER')
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddiscord-node-redis-'))
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]
  const s = new Server('redis-server', binary, args, port, dir)
  s.url = `redis://127.0.0.1:${port}`
  await s.spawn()
  return s
}

/** The captured Discord payloads (`DDISCORD_FIXTURES` or `<repo>/../shared/fixtures/discord`). */
function fixturesDir() {
  return process.env.DDISCORD_FIXTURES || path.resolve(repo, '..', 'shared', 'fixtures', 'discord')
}

/** The envelopes of a JSONL fixture file, parsed. */
function fixtureEvents(file) {
  return fs
    .readFileSync(path.join(fixturesDir(), file), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l))
}

/** Whether `name` runs here (for skips with a reason). */
function have(name) {
  return spawnSync('sh', ['-c', `command -v ${name} || test -x /usr/sbin/${name}`]).status === 0
}

module.exports = { startMosquitto, startRedis, freePort, fixturesDir, fixtureEvents, have, repo }
