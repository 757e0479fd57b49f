'use strict'
// Real servers for tests: a private mosquitto (with the shipped config) and a private
// redis-server, each on a free loopback port with its own directory, started by
// `ddiscord dev services`: the implementation the Rust tests and `ddiscord up` use (crate
// `ddiscord-local-servers`), so every suite starts its servers the same way. Each server is run
// by its own `ddiscord dev services` process, which stops it when its standard input closes
// (`close()`, or this process ending however it ends).
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const readline = require('node:readline')

const repo = path.resolve(__dirname, '..', '..')

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

/** The `ddiscord` binary: `DDISCORD_BINARY` (set by scripts/test-node.sh, which builds it),
 * else built here (`cargo build -p ddiscord-cli`). */
function binary() {
  if (process.env.DDISCORD_BINARY) return process.env.DDISCORD_BINARY
  // Required here: pipeline.js requires this module.
  return require('./pipeline').ddiscordBinary()
}

class Server {
  constructor(name, extra = []) {
    this.name = name
    this.child = spawn(binary(), ['dev', 'services', `--${name}`, ...extra], { stdio: ['pipe', 'pipe', 'pipe'] })
    // Writing to a process that exited fails with EPIPE: its answer is then `null` (below).
    this.child.stdin.on('error', () => {})
    this.stderr = ''
    this.child.stderr.on('data', (chunk) => {
      this.stderr += chunk
    })
    this.exited = new Promise((resolve) => {
      this.child.once('exit', resolve)
      this.child.once('error', (e) => {
        this.stderr += `${e.message} (set DDISCORD_BINARY to the ddiscord binary, or unset it to build one)`
        resolve()
      })
    })
    this.waiting = []
    const lines = readline.createInterface({ input: this.child.stdout })
    lines.on('line', (line) => this.waiting.shift()?.resolve(JSON.parse(line)))
    lines.on('close', () => {
      for (const w of this.waiting.splice(0)) w.resolve(null)
    })
  }

  next() {
    return new Promise((resolve) => this.waiting.push({ resolve }))
  }

  async started() {
    const info = await this.next()
    if (!info) {
      await this.exited
      throw new Error(`starting a private ${this.name} failed: ${this.stderr.trim()}`)
    }
    Object.assign(this, info[this.name])
  }

  async command(action) {
    const answer = this.next()
    this.child.stdin.write(`${action} ${this.name}\n`)
    const a = await answer
    if (!a || !a.ok) throw new Error(`${action} ${this.name}: ${a ? a.error : 'ddiscord dev services exited'}`)
    this.pid = a.pid
  }

  /** Stops gracefully (SIGTERM). */
  stop() {
    return this.command('stop')
  }

  /** Kills (SIGKILL). */
  kill() {
    return this.command('kill')
  }

  /** Starts again on the same port with the same directory. */
  startAgain() {
    return this.command('start')
  }

  /** Stops the server for good and removes its directory. */
  async close() {
    this.child.stdin.end()
    await this.exited
  }
}

async function start(name, extra) {
  const s = new Server(name, extra)
  await s.started()
  return s
}

/** A private `name` (`mosquitto` or `redis`) that speaks only TLS and lets one user in
 * (`ddiscord dev services --secured`): `.url` carries the credentials, `.username`,
 * `.password`, `.ca_file` (the CA to trust) and `.untrusted_ca_file` come with it. */
function startSecured(name) {
  return start(name, ['--secured'])
}

/** A private mosquitto with the shipped config. `.url` is `mqtt://127.0.0.1:<port>`. */
function startMosquitto() {
  return start('mosquitto')
}

/** A private redis-server without persistence. `.url` is `redis://127.0.0.1:<port>`. */
function startRedis() {
  return start('redis')
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

module.exports = { startMosquitto, startRedis, startSecured, freePort, fixturesDir, fixtureEvents, have, repo, binary }
