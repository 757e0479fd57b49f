'use strict'
// Runs the scripts in examples/node/ as a user would, with `require('ddiscord')` resolving to
// this package (NODE_PATH points at a directory holding a `ddiscord` link to sdk-node/).
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

const { repo } = require('./servers')

let nodePath = null
function packagePath() {
  if (nodePath) return nodePath
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddiscord-node-path-'))
  fs.symlinkSync(path.join(repo, 'sdk-node'), path.join(dir, 'ddiscord'), 'dir')
  nodePath = dir
  return dir
}

/**
 * Starts `examples/node/<name>` with `env`; `.lines` collects stdout lines, `.waitFor(re)`
 * resolves with the first line matching, `.exited` resolves with the exit code.
 */
function runExample(name, env) {
  const child = spawn(process.execPath, [path.join(repo, 'examples', 'node', name)], {
    env: { ...process.env, NODE_PATH: packagePath(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines = []
  const waiters = []
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line)
    for (const w of waiters) if (!w.done && w.re.test(line)) {
      w.done = true
      w.resolve(line)
    }
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)))
  return {
    child,
    lines,
    exited,
    get stderr() {
      return stderr
    },
    waitFor(re, timeoutMs = 20_000) {
      const found = lines.find((l) => re.test(l))
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const w = { re, resolve, done: false }
        waiters.push(w)
        const t = setTimeout(() => {
          if (!w.done) reject(new Error(`${name} printed no line matching ${re} within ${timeoutMs} ms; stderr: ${stderr}`))
        }, timeoutMs)
        exited.then(() => {
          clearTimeout(t)
          setImmediate(() => !w.done && reject(new Error(`${name} exited before printing ${re}; stderr: ${stderr}`)))
        })
      })
    },
  }
}

module.exports = { runExample }
