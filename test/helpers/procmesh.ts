/** Run procmesh nodes and CLI commands as real child processes, in the root namespace on 127.0.0.1. */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, access } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IdInfo, PeerEntry } from '../../protocols/types.js'
import { generateSwarmKeyHex, readSwarmKey, writeSwarmKey } from '../../node/security/swarm-key.js'

/** Repository root, from dist/test/helpers/. */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const BIN = join(REPO, 'bin', 'procmesh.js')

export interface CliResult { code: number | null, stdout: string, stderr: string }

export function runCli (args: string[], opts: { env?: NodeJS.ProcessEnv, timeoutMs?: number, input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`procmesh ${args.join(' ')} timed out; stderr: ${stderr}`)) }, opts.timeoutMs ?? 20_000)
    child.on('error', reject)
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
    child.stdin.end(opts.input ?? '')
  })
}

export async function waitFor<T> (fn: () => Promise<T | undefined | false> | T | undefined | false, opts: { timeoutMs: number, intervalMs?: number, what: string }): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err: unknown) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${last !== undefined ? `; last error: ${String(last)}` : ''}`)
    await new Promise(resolve => setTimeout(resolve, opts.intervalMs ?? 100))
  }
}

export async function tempHome (prefix = 'pmtest-'): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix))
}

/**
 * The mesh key every LocalNode of this test process shares unless told otherwise: a
 * node with no swarm.key would create its own mesh, and nodes of different meshes
 * cannot connect. One key per test file (process), so files never join each other.
 */
const TEST_MESH_KEY = generateSwarmKeyHex()

export class LocalNode {
  readonly home: string
  readonly name: string
  proc?: ChildProcess
  log = ''
  /** false: start without writing the shared test key (the node creates its own mesh, or uses what the home has) */
  readonly sharedMesh: boolean
  /** added to the node's environment (e.g. NODE_OPTIONS for test/helpers/clock-shift.ts) */
  readonly env: NodeJS.ProcessEnv

  constructor (home: string, name: string, opts: { sharedMesh?: boolean, env?: NodeJS.ProcessEnv } = {}) {
    this.home = home
    this.name = name
    this.sharedMesh = opts.sharedMesh ?? true
    this.env = opts.env ?? {}
  }

  /** Start `procmesh node` on 127.0.0.1 without mDNS and wait until its control socket answers. */
  async start (extra: string[] = []): Promise<void> {
    if (this.sharedMesh && await readSwarmKey(join(this.home, 'swarm.key')) === undefined) await writeSwarmKey(join(this.home, 'swarm.key'), TEST_MESH_KEY)
    const args = [BIN, 'node', '--home', this.home, '--name', this.name, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--interval', '500ms', ...extra]
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.env } })
    this.proc = proc
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => { this.log += d })
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => { this.log += d })
    let exited = false
    proc.once('exit', () => { exited = true })
    await waitFor(async () => {
      if (exited) throw new Error(`node ${this.name} exited: ${this.log}`)
      await access(join(this.home, 'procmesh.sock'))
      return (await this.cli(['id', '--json'])).code === 0
    }, { timeoutMs: 15_000, what: `node ${this.name} to start` })
  }

  async cli (args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
    // --home right after the command name: anything after `--` belongs to the started command
    return await runCli([args[0], '--home', this.home, ...args.slice(1)], opts)
  }

  async json<T> (args: string[]): Promise<T> {
    const r = await this.cli([args[0], '--json', ...args.slice(1)])
    if (r.code !== 0) throw new Error(`procmesh ${args.join(' ')} exited ${String(r.code)}: ${r.stderr}`)
    return JSON.parse(r.stdout) as T
  }

  async id (): Promise<IdInfo> { return await this.json<IdInfo>(['id']) }
  async peers (): Promise<PeerEntry[]> { return await this.json<PeerEntry[]>(['peers']) }

  /** Stop with a signal and wait for exit (SIGKILL after 5 s). */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const proc = this.proc
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return proc?.exitCode ?? null
    const exited = new Promise<number | null>(resolve => proc.once('exit', code => { resolve(code) }))
    proc.kill(signal)
    const timer = setTimeout(() => { proc.kill('SIGKILL') }, 5000)
    const code = await exited
    clearTimeout(timer)
    return code
  }
}

export async function removeHome (home: string): Promise<void> {
  await rm(home, { recursive: true, force: true })
}
