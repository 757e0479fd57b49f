'use strict'
// Fails when the committed native.d.ts or native.js is not what napi-rs generates from the
// Rust sources: builds the addon again with @napi-rs/cli into a temporary directory (the same
// profile as the install step, so cargo reuses its artifacts) and compares the files.
//
//   node check-native-dts.js    run by scripts/test-node.sh after `npm install`
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const here = __dirname
const cli = path.join(path.dirname(require.resolve('@napi-rs/cli')), 'cli.js')
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ddiscord-dts-'))
const env = { ...process.env }
env.CARGO_TARGET_DIR = env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'ddiscord', 'target')

let failed = false
try {
  const args = [cli, 'build', '--platform', '--js', 'native.js', '--dts', 'native.d.ts', '--output-dir', out, '--profile', 'dist']
  const r = spawnSync(process.execPath, args, { cwd: here, env, stdio: ['ignore', 'ignore', 'inherit'] })
  if (r.status !== 0) {
    console.error(`napi build into ${out} failed (exit ${r.status})`)
    process.exit(r.status || 1)
  }
  for (const file of ['native.d.ts', 'native.js']) {
    const generated = fs.readFileSync(path.join(out, file), 'utf8')
    const committed = fs.readFileSync(path.join(here, file), 'utf8')
    if (generated !== committed) {
      failed = true
      const a = committed.split('\n')
      const b = generated.split('\n')
      const line = a.findIndex((l, i) => l !== b[i])
      console.error(`sdk-node/${file} differs from what napi-rs generates, first at line ${line + 1}:`)
      console.error(`  committed: ${JSON.stringify(a[line])}`)
      console.error(`  generated: ${JSON.stringify(b[line])}`)
      console.error('run `npm run build` in sdk-node/ and commit the result')
    }
  }
} finally {
  fs.rmSync(out, { recursive: true, force: true })
}
if (failed) process.exit(1)
console.log('native.d.ts and native.js match what napi-rs generates')
