'use strict'
// The package installed the way users install it, from an application folder outside the
// checkout: `npm install <checkout>/sdk-node` (npm installs no devDependencies of a linked
// folder, so the install step builds with cargo alone; npm 11 runs it once the application
// approves it with `npm install-scripts approve ddiscord` and `npm rebuild ddiscord`) and `npm install <tarball>` from `npm pack` after a
// build (prebuilt addon, no Rust needed).
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const here = path.resolve(__dirname, '..')
const npmOptions = ['--no-audit', '--no-fund', '--foreground-scripts']

/** A fresh application folder with a package.json, removed by the returned function. */
function app() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddiscord-app-'))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  return dir
}

/** What a script in `dir` sees when it requires the package. */
function load(dir) {
  const script =
    "const d = require('ddiscord');" +
    "console.log(JSON.stringify({ connect: typeof d.connect, workQueue: typeof d.WorkQueue, codes: Object.keys(d.codes).length }))"
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }))
}

test('npm install <checkout>/sdk-node from an application folder builds the addon with cargo', () => {
  const dir = app()
  const npm = (...args) =>
    execFileSync('npm', [...args, ...npmOptions], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  try {
    let out = npm('install', here)
    if (!out.includes('built the native addon')) {
      // npm 11 runs a dependency's install script only once the application approves it.
      out += npm('install-scripts', 'approve', 'ddiscord')
      out += npm('rebuild', 'ddiscord')
    }
    assert.match(out, /built the native addon ddiscord\.[a-z0-9-]+\.node with cargo/)
    const seen = load(dir)
    assert.equal(seen.connect, 'function')
    assert.equal(seen.workQueue, 'function')
    assert.ok(seen.codes > 5, `codes: ${seen.codes}`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('npm install <tarball from npm pack> installs the prebuilt addon without Rust', () => {
  const dir = app()
  try {
    const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: here, encoding: 'utf8' })
    const [{ filename, files }] = JSON.parse(packed)
    assert.ok(files.some((f) => f.path.endsWith('.node')), 'the tarball carries the built addon')
    assert.ok(!files.some((f) => f.path === 'Cargo.toml'), 'the tarball carries no Rust sources')
    // No cargo on PATH: the tarball must not try to build.
    const env = { ...process.env, PATH: path.dirname(process.execPath) + path.delimiter + '/usr/bin:/bin' }
    execFileSync('npm', ['install', ...npmOptions, path.join(dir, path.basename(filename))], {
      cwd: dir,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    const seen = load(dir)
    assert.equal(seen.connect, 'function')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('the per-platform layout napi-rs publishes: the addon in ddiscord-<platform>, an optional dependency', () => {
  const dir = app()
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ddiscord-publish-'))
  try {
    const addons = fs.readdirSync(here).filter((f) => /^ddiscord\.[a-z0-9-]+\.node$/.test(f))
    assert.equal(addons.length, 1, `one built addon in sdk-node/: ${addons}`)
    const platform = addons[0].slice('ddiscord.'.length, -'.node'.length)
    const platformName = `ddiscord-${platform}`

    // This platform's package: the committed npm/<platform>/package.json and the built addon.
    const platformDir = path.join(work, platform)
    fs.cpSync(path.join(here, 'npm', platform), platformDir, { recursive: true })
    fs.copyFileSync(path.join(here, addons[0]), path.join(platformDir, addons[0]))
    const pack = (cwd) => JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd, encoding: 'utf8' }))[0]
    const platformTarball = path.join(work, pack(platformDir).filename)

    // The main package as scripts/release-packages.sh makes it: no addon and no install step,
    // the platform packages as optional dependencies (what `napi prepublish` adds).
    const mainDir = path.join(work, 'main')
    fs.mkdirSync(mainDir)
    const manifest = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'))
    manifest.files = manifest.files.filter((f) => !f.includes('*') && f !== 'build-native.js')
    for (const f of manifest.files) fs.copyFileSync(path.join(here, f), path.join(mainDir, f))
    manifest.optionalDependencies = { [platformName]: manifest.version }
    delete manifest.devDependencies
    delete manifest.scripts
    fs.writeFileSync(path.join(mainDir, 'package.json'), JSON.stringify(manifest, null, 2))
    const main = pack(mainDir)
    assert.ok(!main.files.some((f) => f.path.endsWith('.node')), 'the main package carries no addon')

    // Installed together (as the registry would resolve the optional dependency), with no cargo.
    const env = { ...process.env, PATH: path.dirname(process.execPath) + path.delimiter + '/usr/bin:/bin' }
    execFileSync('npm', ['install', ...npmOptions, platformTarball, path.join(work, main.filename)], {
      cwd: dir,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    assert.ok(!fs.readdirSync(path.join(dir, 'node_modules', 'ddiscord')).some((f) => f.endsWith('.node')))
    assert.equal(load(dir).connect, 'function')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(work, { recursive: true, force: true })
  }
})
