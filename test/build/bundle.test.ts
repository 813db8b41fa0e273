/**
 * The bundles (build/bundle.mjs) and the npm package that ships one: built fresh from the dist/
 * that `npm test` just compiled (a second or two), so they never test stale code.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BIN, REPO, removeHome, tempHome, waitFor, type CliResult } from '../helpers/procmesh.js'
import { assertServesPage } from './serves-page.js'

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version
const CJS_BUNDLE = join(REPO, 'dist', 'procmesh.bundle.cjs')

function run (file: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${file} ${args.join(' ')} timed out; stderr: ${stderr}`)) }, timeoutMs)
    child.on('error', reject)
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

describe('bundles', () => {
  const homes: string[] = []
  before(async () => {
    const r = await run(process.execPath, [join(REPO, 'build', 'bundle.mjs')], {}, 60_000)
    assert.equal(r.code, 0, `build/bundle.mjs failed:\n${r.stdout}${r.stderr}`)
  })
  after(async () => { for (const h of homes) await removeHome(h) })

  it('the single-file CommonJS bundle runs the CLI', async () => {
    const v = await run(process.execPath, [CJS_BUNDLE, '--version'])
    assert.equal(v.code, 0, v.stderr)
    assert.equal(v.stdout.trim(), VERSION)
    const home = await tempHome('pm-bundle-')
    homes.push(home)
    const p = await run(process.execPath, [CJS_BUNDLE, 'peers', '--home', home])
    assert.equal(p.code, 1)
    assert.match(p.stderr, /no node is running for home/)
    await assertServesPage(process.execPath, [CJS_BUNDLE], home)
  })

  it('bin/procmesh.js runs the ESM bundle with PROCMESH_BUNDLE=1, node included', async () => {
    const env = { PROCMESH_BUNDLE: '1' }
    const v = await run(process.execPath, [BIN, '--version'], env)
    assert.equal(v.code, 0, v.stderr)
    assert.equal(v.stdout.trim(), VERSION)
    const home = await tempHome('pm-bundle-')
    homes.push(home)
    const node = spawn(process.execPath, [BIN, 'node', '--home', home, '--name', 'bundled', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], { env: { ...process.env, ...env }, stdio: 'ignore' })
    try {
      const id = await waitFor(async () => {
        const r = await run(process.execPath, [BIN, 'id', '--json', '--home', home], env)
        return r.code === 0 ? JSON.parse(r.stdout) as { name: string } : undefined
      }, { timeoutMs: 15_000, what: 'the bundled node to answer' })
      assert.equal(id.name, 'bundled')
    } finally {
      node.kill('SIGTERM')
      await new Promise(resolve => node.once('exit', resolve))
    }
  })
})

describe('the npm package', () => {
  let dir: string | undefined
  after(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  it('installs with npm install -g and runs from its bundle', { timeout: 120_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'pm-pack-'))
    // the bundle was just built (above); --ignore-scripts skips prepack's second build
    const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: REPO, encoding: 'utf8' })
    assert.equal(pack.status, 0, pack.stderr)
    const tarball = join(dir, (await readdir(dir)).find(f => f.endsWith('.tgz')) ?? 'missing.tgz')
    const prefix = join(dir, 'prefix')
    const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund'], { encoding: 'utf8' })
    assert.equal(install.status, 0, install.stderr)
    const pkg = join(prefix, 'lib', 'node_modules', 'procmesh')
    assert.ok(existsSync(join(pkg, 'dist', 'bundle', 'procmesh.mjs')), 'the package ships the bundle')
    assert.equal(existsSync(join(pkg, 'dist', 'test')), false, 'the package does not ship the tests')
    // an installed package runs the bundle: it works without the unbundled CLI
    await rename(join(pkg, 'dist', 'cli'), join(pkg, 'dist', 'cli.moved'))
    const cmd = join(prefix, 'bin', 'procmesh')
    const v = await run(cmd, ['--version'])
    assert.equal(v.code, 0, v.stderr)
    assert.equal(v.stdout.trim(), VERSION)
    const p = await run(cmd, ['peers', '--home', join(dir, 'empty-home')])
    assert.equal(p.code, 1)
    assert.match(p.stderr, /no node is running for home/)
    // the dashboard's script is in the bundle too (the unbundled dist/cli is gone)
    await assertServesPage(cmd, [], join(dir, 'empty-home'))
  })
})
