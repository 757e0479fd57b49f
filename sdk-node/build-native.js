'use strict'
// Builds the native addon when installed from a repository checkout (`npm install` in
// sdk-node/), or checks that a prebuilt one is present (installed from a packed tarball).
//
//   node build-native.js            build unless a current addon exists (install step; leaves
//                                   native.js and native.d.ts as committed)
//   node build-native.js --force    always build, and write native.js and native.d.ts (npm run build)
//   node build-native.js --rebuild  build with cargo even when an addon exists (the release script;
//                                   leaves native.js and native.d.ts as committed)
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
const rebuild = args.includes('--rebuild')
const inCheckout = fs.existsSync(path.join(here, 'Cargo.toml')) && fs.existsSync(path.join(here, 'src', 'lib.rs'))
const prebuilt = fs.readdirSync(here).filter((f) => f.startsWith('ddiscord.') && f.endsWith('.node'))

if (process.env.DDISCORD_SKIP_NATIVE_BUILD) {
  console.log('ddiscord: DDISCORD_SKIP_NATIVE_BUILD is set; not building the native addon')
  process.exit(0)
}

if (!inCheckout) {
  // A published package: the addon is in it (a tarball packed after a build) or in this
  // platform's package (`ddiscord-<platform>`, an optional dependency, as napi-rs publishes).
  if (prebuilt.length === 0 && !hasPlatformPackage()) {
    console.error(
      `ddiscord: no prebuilt native addon for ${platformName()} (neither in this package nor as ddiscord-${platformName()}) ` +
        'and no Rust sources to build one; install from a repository checkout (npm install <checkout>/sdk-node)'
    )
    process.exit(1)
  }
  process.exit(0)
}

const env = { ...process.env }
env.CARGO_TARGET_DIR = env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'ddiscord', 'target')
if (!force && !rebuild && prebuilt.length > 0 && process.env.npm_lifecycle_event !== 'install') {
  process.exit(0)
}

if (force) {
  // `npm run build`: napi-rs (a devDependency) builds the addon and regenerates the committed
  // loader (native.js) and types (native.d.ts) from the Rust sources.
  let cli
  try {
    cli = path.join(path.dirname(require.resolve('@napi-rs/cli')), 'cli.js')
  } catch {
    console.error('ddiscord: `npm run build` needs @napi-rs/cli; run `npm install` in sdk-node/ first (it is a devDependency)')
    process.exit(1)
  }
  const napiArgs = [cli, 'build', '--platform', '--js', 'native.js', '--dts', 'native.d.ts']
  // Cargo profile `dist` (the workspace Cargo.toml): release without debug information.
  if (!debug) napiArgs.push('--profile', 'dist')
  const r = spawnSync(process.execPath, napiArgs, { cwd: here, env, stdio: 'inherit' })
  if (r.status !== 0) {
    console.error(`ddiscord: building the native addon failed (exit ${r.status}); see the cargo output above`)
    process.exit(r.status || 1)
  }
  process.exit(0)
}

// The install step (also `npm install <checkout>/sdk-node` from an application, where npm does
// not install this package's devDependencies): cargo alone builds the addon; the committed
// native.js loads it under napi-rs' file name for this platform.
const profile = debug ? 'dev' : 'dist'
const r = spawnSync('cargo', ['build', '--locked', '-p', 'ddiscord-node', '--profile', profile, '--message-format', 'json-render-diagnostics'], {
  cwd: here,
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
  maxBuffer: 256 * 1024 * 1024,
})
if (r.error || r.status !== 0) {
  const why = r.error ? r.error.message : `exit ${r.status}`
  console.error(`ddiscord: building the native addon with cargo failed (${why}); install Rust 1.89+ (https://rustup.rs) and see the cargo output above`)
  process.exit(r.status || 1)
}
let library
for (const line of r.stdout.toString().split('\n')) {
  if (!line.startsWith('{')) continue
  const m = JSON.parse(line)
  if (m.reason === 'compiler-artifact' && m.target.name === 'ddiscord_node' && m.target.kind.includes('cdylib')) {
    library = m.filenames.find((f) => /\.(so|dylib|dll)$/.test(f))
  }
}
if (!library) {
  console.error('ddiscord: cargo built no ddiscord_node library; run `cargo build -p ddiscord-node` to see why')
  process.exit(1)
}
// Copy, then rename over the old addon: a process that has the old one loaded keeps its file.
const addon = path.join(here, `ddiscord.${platformName()}.node`)
fs.copyFileSync(library, `${addon}.tmp-${process.pid}`)
fs.renameSync(`${addon}.tmp-${process.pid}`, addon)
console.log(`ddiscord: built the native addon ${path.basename(addon)} with cargo (profile ${profile})`)

/** napi-rs' name for this platform, as native.js looks it up (`linux-x64-gnu`, ...). */
function platformName() {
  const arch = process.arch
  switch (process.platform) {
    case 'linux': {
      const glibc = process.report.getReport().header.glibcVersionRuntime
      return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
    }
    case 'win32':
      return `win32-${arch}-msvc`
    default:
      return `${process.platform}-${arch}`
  }
}

/** Whether this platform's package (`ddiscord-linux-x64-gnu`, ...) is installed. */
function hasPlatformPackage() {
  try {
    require.resolve(`ddiscord-${platformName()}`)
    return true
  } catch {
    return false
  }
}
