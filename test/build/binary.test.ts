/**
 * The single executable (dist/procmesh, build/binary.mjs): rebuilt when any compiled file is newer
 * (a few seconds), then run for real: the CLI, a node in a mesh with a node run from source
 * (joined with invite/join, as the README shows), ps and run in both directions, and `top`
 * (blessed, with the host's terminfo and with blessed's own fallback) in tmux.
 *
 * Nodes listen on 127.0.0.1 with --no-mdns: this is the machine's root network namespace.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RunResult } from '../../protocols/control.js'
import type { IdInfo, PeerEntry } from '../../protocols/types.js'
import { LocalNode, REPO, removeHome, runCli, tempHome, waitFor, type CliResult } from '../helpers/procmesh.js'
import { EXE, ensureBinary, runFile } from '../helpers/binary.js'
import { assertServesPage } from './serves-page.js'

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version
const linux = process.platform === 'linux'
const run = runFile

const exe = (args: string[]): Promise<CliResult> => run(EXE, args)

async function json<T> (r: Promise<CliResult>): Promise<T> {
  const res = await r
  if (res.code !== 0) throw new Error(`exit ${String(res.code)}: ${res.stderr}`)
  return JSON.parse(res.stdout) as T
}

/** A node run by the executable, on 127.0.0.1 without mDNS. */
class ExeNode {
  proc?: ChildProcess
  log = ''
  constructor (readonly home: string, readonly name: string) {}

  async start (): Promise<IdInfo> {
    const proc = spawn(EXE, ['node', '--home', this.home, '--name', this.name, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--interval', '500ms'], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc = proc
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => { this.log += d })
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => { this.log += d })
    return await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`the executable's node exited: ${this.log}`)
      return await json<IdInfo>(exe(['id', '--json', '--home', this.home]))
    }, { timeoutMs: 15_000, what: `node ${this.name} (executable) to start` })
  }

  async stop (): Promise<void> {
    const proc = this.proc
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise(resolve => proc.once('exit', resolve))
    proc.kill('SIGTERM')
    const timer = setTimeout(() => { proc.kill('SIGKILL') }, 5000)
    await exited
    clearTimeout(timer)
  }
}

describe('the single executable', { skip: linux ? false : 'built and tested on Linux only (see README)' }, () => {
  const homes: string[] = []
  let seaNode: ExeNode
  let srcNode: LocalNode
  let tmuxSocket: string | undefined
  let built = ''

  before(async () => { built = await ensureBinary() }, { timeout: 90_000 })

  after(async () => {
    if (tmuxSocket !== undefined) spawnSync('tmux', ['-L', tmuxSocket, 'kill-server'])
    await seaNode?.stop()
    await srcNode?.stop()
    for (const h of homes) await removeHome(h)
  })

  it('answers --version and reports a missing node like the source build', async (t) => {
    t.diagnostic(`dist/procmesh: ${built}`)
    const v = await exe(['--version'])
    assert.equal(v.code, 0, v.stderr)
    assert.equal(v.stdout.trim(), VERSION)
    assert.equal(v.stderr, '', 'no SEA warning on stderr')
    const empty = await tempHome('pm-exe-')
    homes.push(empty)
    const p = await exe(['peers', '--home', empty])
    assert.equal(p.code, 1)
    assert.equal(p.stderr.trim(), `procmesh peers: no node is running for home ${empty}, and it holds no identity: procmesh node --home ${empty} creates a new mesh; to join an existing one, run procmesh join TOKEN (TOKEN from procmesh invite on one of its nodes)`)
    const bad = await exe(['nope'])
    assert.equal(bad.code, 2)
    const unit = await exe(['service', 'install', '--dry-run', '--home', empty])
    assert.equal(unit.code, 0, unit.stderr)
    assert.match(unit.stdout, new RegExp(`^ExecStart=${EXE} node --home ${empty}$`, 'm'), 'a service runs the executable itself')
  })

  it('serves the dashboard (its script is inside the executable)', async () => {
    const home = await tempHome('pm-exe-')
    homes.push(home)
    await assertServesPage(EXE, [], home)
  })

  it('needs only the C and C++ runtimes of the README\'s glibc', async (t) => {
    const ldd = spawnSync('ldd', [EXE], { encoding: 'utf8' })
    if (ldd.error !== undefined) { t.skip('ldd is not installed'); return }
    assert.doesNotMatch(ldd.stdout, /not found/)
    const objdump = spawnSync('objdump', ['-T', EXE], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    if (objdump.error !== undefined) { t.skip('objdump (binutils) is not installed'); return }
    const versions = [...objdump.stdout.matchAll(/GLIBC_2\.(\d+)/g)].map(m => Number(m[1]))
    const needs = `glibc 2.${Math.max(...versions)}`
    t.diagnostic(`dist/procmesh needs ${needs}`)
    assert.ok(readFileSync(join(REPO, 'README.md'), 'utf8').includes(needs), `README.md should say the binary needs ${needs}`)
  })

  it('runs a node that meshes with a node run from source: peers, ps and run both ways', { timeout: 90_000 }, async () => {
    const h1 = await tempHome('pm-exe-sea-')
    const h2 = await tempHome('pm-exe-src-')
    homes.push(h1, h2)
    seaNode = new ExeNode(h1, 'sea')
    const seaId = await seaNode.start()

    // the README's three commands: invite on the first host, join on the new one, start its node
    const invite = await exe(['invite', '--role', 'exec', '--home', h1])
    assert.equal(invite.code, 0, invite.stderr)
    const token = invite.stdout.trim().split('\n').at(-1) ?? ''
    const join = await runCli(['join', token, '--home', h2])
    assert.equal(join.code, 0, join.stderr)
    srcNode = new LocalNode(h2, 'src', { sharedMesh: false })
    await srcNode.start(['--bootstrap', seaId.addrs[0]])

    const sees = async (peers: PeerEntry[], name: string): Promise<boolean> => peers.some(p => p.name === name && p.status === 'online')
    await waitFor(async () => await sees(await json<PeerEntry[]>(exe(['peers', '--json', '--home', h1])), 'src'), { timeoutMs: 20_000, what: 'the executable to see the source node' })
    await waitFor(async () => await sees(await srcNode.peers(), 'sea'), { timeoutMs: 20_000, what: 'the source node to see the executable' })

    type Ps = Array<{ name: string, processes?: Array<{ pid: number }>, error?: unknown }>
    const fromSea = await json<Ps>(exe(['ps', 'src', '--json', '--home', h1]))
    assert.equal(fromSea[0]?.name, 'src')
    assert.ok((fromSea[0]?.processes?.length ?? 0) > 0, JSON.stringify(fromSea[0]?.error))
    const fromSrc = await json<Ps>(srcNode.cli(['ps', 'sea', '--json']))
    assert.ok(fromSrc[0]?.processes?.some(p => p.pid === seaNode.proc?.pid), "the source node lists the executable's node among sea's processes")

    // the source node claims the exec grant of the invite when it connects; the inviter is an admin of the joiner
    const onSea = await waitFor(async () => await json<RunResult>(srcNode.cli(['run', 'sea', '--json', '--', 'sleep', '30'])), { timeoutMs: 15_000, what: 'run on the executable from source' })
    assert.equal(onSea.name, 'sea')
    const onSrc = await json<RunResult>(exe(['run', 'src', '--json', '--home', h1, '--', 'sleep', '30']))
    assert.equal(onSrc.name, 'src')
    const seen = await json<Ps>(exe(['ps', 'sea', '--json', '--home', h1]))
    assert.ok(seen[0]?.processes?.some(p => p.pid === onSea.pid), 'the started process runs on the executable host')
    for (const [cli, target, pid] of [[(a: string[]) => srcNode.cli(a), 'sea', onSea.pid], [(a: string[]) => exe([...a, '--home', h1]), 'src', onSrc.pid]] as const) {
      const k = await cli(['kill', target, String(pid), '--json'])
      assert.equal(k.code, 0, k.stderr)
    }
  })

  it('runs top (blessed) in a terminal, with the host terminfo and with its own fallback', { timeout: 60_000 }, async (t) => {
    if (spawnSync('tmux', ['-V']).error !== undefined) {
      if (process.env.CI === 'true') assert.fail('CI=true: tmux must be installed (.ci/run installs it)')
      t.skip('tmux is not installed')
      return
    }
    assert.ok(seaNode?.proc !== undefined, 'needs the mesh of the previous test')
    tmuxSocket = `pmsea${process.pid}`
    for (const term of ['xterm-256color', 'procmesh-no-such-terminal']) {
      const session = term.replace(/\W/g, '')
      const started: SpawnSyncReturns<string> = spawnSync('tmux', ['-L', tmuxSocket, 'new-session', '-d', '-s', session, '-x', '160', '-y', '40',
        'env', `TERM=${term}`, EXE, 'top', '--no-start', '--home', seaNode.home], { encoding: 'utf8' })
      assert.equal(started.status, 0, started.stderr)
      const screen = await waitFor(() => {
        const cap = spawnSync('tmux', ['-L', tmuxSocket ?? '', 'capture-pane', '-p', '-t', session], { encoding: 'utf8' })
        return cap.status === 0 && /\bsea\b/.test(cap.stdout) && /\bsrc\b/.test(cap.stdout) ? cap.stdout : undefined
      }, { timeoutMs: 20_000, what: `top (TERM=${term}) to show both hosts` })
      assert.match(screen, /procmesh top/)
      spawnSync('tmux', ['-L', tmuxSocket, 'send-keys', '-t', session, 'q'])
      await waitFor(() => spawnSync('tmux', ['-L', tmuxSocket ?? '', 'has-session', '-t', session]).status !== 0, { timeoutMs: 10_000, what: 'top to quit on q' })
    }
  })
})
