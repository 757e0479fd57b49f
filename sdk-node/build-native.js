'use strict'
// Builds the native addon when installed from a repository checkout (`npm install` in
// sdk-node/), or checks that a prebuilt one is present (installed from a packed tarball).
//
//   node build-native.js            build unless a current addon exists (install step; leaves
//                                   native.js and native.d.ts as committed)
//   node build-native.js --force    always build, and write native.js and native.d.ts (npm run build)
//   node build-native.js --debug    debug profile instead of `dist` (release, no debug info)
//
// Cargo output goes to $CARGO_TARGET_DIR (default ~/.cache/ddiscord/target), shared with the
// rest of the workspace so repeated installs are incremental.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const here = __dirname
const args = process.argv.slice(2)
const force = args.includes('--force')
const debug = args.includes('--debug')
const inCheckout = fs.existsSync(path.join(here, 'Cargo.toml')) && fs.existsSync(path.join(here, 'src', 'lib.rs'))
const prebuilt = fs.readdirSync(here).filter((f) => f.startsWith('ddiscord.') && f.endsWith('.node'))

if (process.env.DDISCORD_SKIP_NATIVE_BUILD) {
  console.log('ddiscord: DDISCORD_SKIP_NATIVE_BUILD is set; not building the native addon')
  process.exit(0)
}

if (!inCheckout) {
  if (prebuilt.length === 0) {
    console.error(
      'ddiscord: no prebuilt native addon in this package and no Rust sources to build one; ' +
        'install from a repository checkout (npm install ./sdk-node) or a tarball packed after a build'
    )
    process.exit(1)
  }
  process.exit(0)
}

let cli
try {
  cli = path.join(path.dirname(require.resolve('@napi-rs/cli')), 'cli.js')
} catch {
  console.error('ddiscord: @napi-rs/cli is missing; run `npm install` in sdk-node/ (it is a devDependency)')
  process.exit(1)
}

const env = { ...process.env }
env.CARGO_TARGET_DIR = env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'ddiscord', 'target')
const napiArgs = [cli, 'build', '--platform', '--js', 'native.js', '--dts', 'native.d.ts']
// Cargo profile `dist` (the workspace Cargo.toml): release without debug information.
if (!debug) napiArgs.push('--profile', 'dist')
if (!force && prebuilt.length > 0 && process.env.npm_lifecycle_event !== 'install') {
  process.exit(0)
}
// The install step builds into a temporary directory and copies only the addon: the committed
// native.js and native.d.ts stay as they are (check-native-dts.js compares them with what
// napi-rs generates). `npm run build` writes all three here.
const out = force ? here : fs.mkdtempSync(path.join(os.tmpdir(), 'ddiscord-native-'))
if (!force) napiArgs.push('--output-dir', out)
const r = spawnSync(process.execPath, napiArgs, { cwd: here, env, stdio: 'inherit' })
if (r.status !== 0) {
  console.error(`ddiscord: building the native addon failed (exit ${r.status}); see the cargo output above`)
  process.exit(r.status || 1)
}
if (!force) {
  for (const f of fs.readdirSync(out)) {
    if (f.startsWith('ddiscord.') && f.endsWith('.node')) fs.copyFileSync(path.join(out, f), path.join(here, f))
  }
  fs.rmSync(out, { recursive: true, force: true })
}
