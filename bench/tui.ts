/**
 * TUI benchmark: `procmesh top` over 20 hosts of 1,000 processes each (synthetic, replayed
 * through a real control socket), measuring keypress-to-redraw latency and idle CPU.
 *
 *   node dist/bench/tui.js [--hosts 20] [--procs 1000] [--keys 200] [--idle-seconds 20] [--json]
 *
 * A child process serves the control API (peers, ps, history) on a Unix socket with the
 * same JSON-RPC framing, streaming and answer shapes as the node, its figures changing on
 * every poll. The TUI runs in this process exactly as `procmesh top` does (real
 * ControlClient, real blessed screen) on an in-memory terminal of 160x45, so the CPU
 * measured is the TUI's own: JSON parsing, the reducer, rows, drawing and terminal output.
 *
 * Keypress-to-redraw: a key sequence is written to the terminal input and the clock stops
 * when the redraw it caused has been written out. Keys mix moving, paging, sorting, the
 * tree, filtering and mesh-wide mode, and arrive while data updates keep flowing.
 * Idle CPU: no keys for --idle-seconds, data polled as usual (ps every 2 s, peers every
 * second, history every 10 s), once for one host's list and once mesh-wide (20,000 rows).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { ControlClient, socketPath } from '../cli/control-client.js'
import { TopApp } from '../cli/tui/app.js'
import type { PsEntry } from '../protocols/control.js'
import type { PeerEntry, ProcessInfo } from '../protocols/types.js'
import { invokedDirectly, printResult } from './lib/entry.js'

export interface TuiBenchOptions {
  hosts?: number
  procs?: number
  /** keypresses measured in each mode */
  keys?: number
  idleSeconds?: number
  log?: (line: string) => void
}

export interface LatencySummary { count: number, p50: number, p90: number, p99: number, max: number }

export interface TuiBenchResult {
  hosts: number
  procsPerHost: number
  terminal: string
  /** keypress to redraw written, per mode (ms) */
  keyLatency: { host: LatencySummary, meshWide: LatencySummary, all: LatencySummary }
  /** one redraw (render + screen diff + output), any cause (ms) */
  redraw: LatencySummary
  /** the keys with the slowest p90, per mode */
  slowestKeys: Array<{ key: string } & LatencySummary>
  /** share of one core while idle, in percent */
  idleCpu: { host: number, meshWide: number, seconds: number }
  targets: { keyP99Ms: number, idleCpuPercent: number }
}

const COLS = 160
const ROWS = 45

// ---- synthetic mesh (deterministic) ----

function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    // mulberry32
    s = (s + 0x6D2B79F5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SERVICES = ['nginx', 'postgres', 'java', 'node', 'python3', 'redis-server', 'gunicorn', 'sidekiq', 'php-fpm', 'dockerd', 'containerd-shim', 'prometheus', 'grafana', 'envoy', 'kafka']
const USERS = ['root', 'www-data', 'postgres', 'app', 'alice', 'bob', 'nobody']

function commandFor (name: string, r: () => number): string {
  const args: string[] = [`/usr/bin/${name}`]
  const n = Math.floor(r() * 12)
  for (let i = 0; i < n; i++) {
    args.push(r() < 0.5 ? `--option-${Math.floor(r() * 100)}=${Math.floor(r() * 1e6).toString(36)}` : `/srv/app/releases/${Math.floor(r() * 1e9).toString(36)}/config-${i}.yml`)
  }
  return args.join(' ')
}

export function syntheticHost (h: number, procs: number, now: number): { peer: PeerEntry, processes: ProcessInfo[] } {
  const r = rng(1000 + h)
  const processes: ProcessInfo[] = []
  const add = (pid: number, ppid: number, name: string, user: string, cmd: string): void => {
    processes.push({ pid, ppid, uid: USERS.indexOf(user), user, name, cmd, state: 'S', cpuPercent: 0, rss: Math.floor(r() * 400 * 2 ** 20), startTime: now - Math.floor(r() * 86_400_000) })
  }
  add(1, 0, 'systemd', 'root', '/sbin/init splash')
  add(2, 0, 'kthreadd', 'root', '')
  let pid = 3
  const kernel = Math.floor(procs * 0.25)
  for (let i = 0; i < kernel && processes.length < procs; i++) add(pid++, 2, `kworker/u16:${i}`, 'root', '')
  while (processes.length < procs) {
    const name = SERVICES[Math.floor(r() * SERVICES.length)]
    const user = USERS[Math.floor(r() * USERS.length)]
    const master = pid++
    add(master, 1, name, user, commandFor(name, r))
    const workers = Math.floor(r() * 14)
    for (let w = 0; w < workers && processes.length < procs; w++) add(pid++, master, name, user, commandFor(name, r))
  }
  const peer: PeerEntry = {
    peerId: `12D3KooWBench${String(h).padStart(4, '0')}${'x'.repeat(30)}`,
    name: `host-${String(h).padStart(2, '0')}`,
    status: 'online',
    lastSeen: now,
    tags: { zone: `z${h % 3}`, role: h % 2 === 0 ? 'web' : 'db' },
    addrs: [],
    self: h === 0,
    host: { hostname: `host-${h}`, platform: 'linux', arch: 'x64', cpus: 8, cpuPercent: 0, load: [1, 1, 1], memTotal: 32 * 2 ** 30, memUsed: 12 * 2 ** 30, uptime: 86_400 },
    procCount: processes.length,
    version: '0.1.0',
    topCpu: [],
    topMem: []
  }
  return { peer, processes }
}

/** New CPU figures on every poll, as a live host would have. */
function churn (processes: ProcessInfo[], r: () => number): void {
  for (const p of processes) {
    if (p.cmd === '') continue
    p.cpuPercent = r() < 0.85 ? 0 : Math.round(r() * (r() < 0.05 ? 400 : 30) * 10) / 10
    p.state = p.cpuPercent > 5 ? 'R' : 'S'
  }
}

/** The fake node: JSON-RPC over a Unix socket, answering as the node's control methods do. */
function serve (sock: string, hosts: number, procs: number): void {
  const r = rng(7)
  const now = Date.now()
  const mesh = Array.from({ length: hosts }, (_, h) => syntheticHost(h, procs, now))
  const write = (s: Socket, msg: unknown): void => { if (!s.destroyed) s.write(JSON.stringify(msg) + '\n') }
  const server = createServer(s => {
    let buf = ''
    s.setEncoding('utf8')
    s.on('error', () => {})
    s.on('data', (chunk: string) => {
      buf += chunk
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const req = JSON.parse(line) as { id: number, method: string, params?: { target?: string } }
        const t = Date.now()
        if (req.method === 'peers') {
          write(s, { jsonrpc: '2.0', id: req.id, result: mesh.map(m => ({ ...m.peer, lastSeen: t, host: { ...m.peer.host, cpuPercent: Math.round(r() * 1000) / 10 } })) })
        } else if (req.method === 'ps') {
          const target = req.params?.target
          const chosen = target === 'all' ? mesh : mesh.filter(m => m.peer.peerId === target)
          const entries: PsEntry[] = chosen.map(m => {
            churn(m.processes, r)
            return { peerId: m.peer.peerId, name: m.peer.name, collectedAt: t, processes: m.processes }
          })
          // as the node does: every entry streamed as it arrives, then all of them as the result
          for (const e of entries) write(s, { jsonrpc: '2.0', method: 'stream', params: { id: req.id, data: e } })
          write(s, { jsonrpc: '2.0', id: req.id, result: entries })
        } else if (req.method === 'history') {
          write(s, {
            jsonrpc: '2.0',
            id: req.id,
            result: mesh.map(m => ({
              peerId: m.peer.peerId,
              name: m.peer.name,
              history: { intervalMs: 2000, memTotal: m.peer.host.memTotal, points: Array.from({ length: 240 }, (_, i) => ({ at: t - (240 - i) * 2000, cpuPercent: Math.round(r() * 1000) / 10, memUsed: 1, load1: 1, procCount: procs })) }
            }))
          })
        } else {
          write(s, { jsonrpc: '2.0', id: req.id, error: { code: -32601, message: `unknown method ${req.method}`, data: { code: 'NOT_FOUND' } } })
        }
      }
    })
  })
  server.listen(sock, () => { process.send?.('ready') })
  process.on('disconnect', () => { server.close(); process.exit(0) })
}

// ---- measuring ----

function summarize (values: number[]): LatencySummary {
  const v = [...values].sort((a, b) => a - b)
  const at = (q: number): number => v.length === 0 ? NaN : v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)]
  const round = (n: number): number => Math.round(n * 100) / 100
  return { count: v.length, p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), max: round(v[v.length - 1] ?? NaN) }
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

const KEY_NAMES: Readonly<Record<string, string>> = {
  '\u001b[B': 'down', '\u001b[A': 'up', '\u001b[6~': 'pgdn', '\u001b[5~': 'pgup', '\r': 'enter', '\u001b': 'esc'
}

/** What a person presses, as the bytes a terminal sends. */
const KEY_CYCLE: string[] = [
  '\u001b[B', '\u001b[B', '\u001b[B', '\u001b[6~', 'j', '\u001b[A', '\u001b[5~', 'm', '\u001b[B', 'p', 'r', 'n', 'c',
  't', '\u001b[B', '-', '+', 't', '/', 'n', 'g', 'i', '\r', '\u001b[B', '\u001b', 'G', 'g', '\u001b[6~', '\u001b[A'
]

export async function runTuiBench (opts: TuiBenchOptions = {}): Promise<TuiBenchResult> {
  const hosts = opts.hosts ?? 20
  const procs = opts.procs ?? 1000
  const keyCount = opts.keys ?? 200
  const idleSeconds = opts.idleSeconds ?? 20
  const log = opts.log ?? ((line: string) => { process.stderr.write(`${line}\n`) })
  const home = mkdtempSync(join(tmpdir(), 'pmbench-tui-'))
  let server: ChildProcess | undefined
  let app: TopApp | undefined
  try {
    server = fork(fileURLToPath(import.meta.url), ['--serve', socketPath(home), String(hosts), String(procs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    await new Promise<void>((resolve, reject) => {
      server?.once('message', () => { resolve() })
      server?.once('exit', code => { reject(new Error(`fake node exited (${String(code)})`)) })
    })

    const input = new PassThrough()
    const output = new PassThrough()
    Object.assign(output, { columns: COLS, rows: ROWS, isTTY: true })
    output.resume()
    const renders: Array<{ at: number, ms: number }> = []
    const waiters: Array<{ after: number, resolve: (at: number) => void }> = []
    const onRender = (info: { ms: number, at: number }): void => {
      renders.push(info)
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (info.at >= waiters[i].after) { waiters[i].resolve(info.at); waiters.splice(i, 1) }
      }
    }
    app = new TopApp({ connect: async () => await ControlClient.connect(home), intervalMs: 2000, input, output, terminal: 'xterm-256color', unicode: true, onRender })
    const running = app.run()
    const a = app
    const waitRows = async (what: string, check: () => boolean): Promise<void> => {
      const deadline = Date.now() + 30_000
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await sleep(20)
      }
    }
    await waitRows('the first host\'s processes', () => Object.keys(a.current.procs).length > 0 && a.current.hosts.length === hosts)
    log(`tui bench: ${hosts} hosts x ${procs} processes, terminal ${COLS}x${ROWS}`)

    // blessed parses keys off the input stream and emits `keypress` on it; the app's handler
    // was attached first, so when ours runs the key is in the state and the next redraw shows it
    const press = async (seq: string): Promise<number> => {
      const t0 = performance.now()
      const drawn = new Promise<number>(resolve => {
        input.once('keypress', () => { waiters.push({ after: performance.now(), resolve }) })
      })
      input.write(seq)
      const at = await drawn
      return at - t0
    }
    const byKey = new Map<string, number[]>()
    const measureKeys = async (label: string): Promise<number[]> => {
      const out: number[] = []
      for (let i = 0; i < keyCount; i++) {
        const seq = KEY_CYCLE[i % KEY_CYCLE.length]
        const ms = await press(seq)
        out.push(ms)
        const name = `${label === 'mesh-wide' ? 'mesh ' : ''}${KEY_NAMES[seq] ?? seq}`
        byKey.set(name, [...(byKey.get(name) ?? []), ms])
        // people type 5-15 keys a second; the gaps let data updates land between keys
        await sleep(30 + (i * 37) % 70)
      }
      log(`  ${label}: ${out.length} keys measured`)
      return out
    }
    const idleCpu = async (label: string): Promise<number> => {
      await sleep(2500)
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await sleep(idleSeconds * 1000)
      const c = process.cpuUsage(c0)
      const pct = (c.user + c.system) / 1000 / (performance.now() - t0) * 100
      log(`  idle ${label}: ${pct.toFixed(2)}% of a core over ${idleSeconds} s`)
      return pct
    }

    const hostKeys = await measureKeys('one host')
    const hostIdle = await idleCpu('one host')
    await press('a')
    await waitRows('every host\'s processes', () => Object.keys(a.current.procs).length === hosts)
    const meshKeys = await measureKeys('mesh-wide')
    await press('\u001b')
    await sleep(200)
    const meshIdle = await idleCpu('mesh-wide')

    input.write('q')
    await running
    return {
      hosts,
      procsPerHost: procs,
      terminal: `${COLS}x${ROWS}`,
      keyLatency: { host: summarize(hostKeys), meshWide: summarize(meshKeys), all: summarize([...hostKeys, ...meshKeys]) },
      redraw: summarize(renders.map(r => r.ms)),
      slowestKeys: [...byKey].map(([key, v]) => ({ key, ...summarize(v) })).sort((x, y) => y.p90 - x.p90).slice(0, 6),
      idleCpu: { host: Math.round(hostIdle * 100) / 100, meshWide: Math.round(meshIdle * 100) / 100, seconds: idleSeconds },
      targets: { keyP99Ms: 50, idleCpuPercent: 3 }
    }
  } finally {
    app?.stop()
    server?.disconnect()
    server?.kill()
    rmSync(home, { recursive: true, force: true })
  }
}

export function formatTuiBench (r: TuiBenchResult): string {
  const row = (label: string, s: LatencySummary): string =>
    `  ${label.padEnd(22)} p50 ${s.p50.toFixed(1).padStart(6)} ms   p90 ${s.p90.toFixed(1).padStart(6)} ms   p99 ${s.p99.toFixed(1).padStart(6)} ms   max ${s.max.toFixed(1).padStart(6)} ms   (n=${s.count})`
  const ok = (good: boolean): string => good ? 'ok' : 'MISSED'
  return [
    `procmesh top: ${r.hosts} hosts x ${r.procsPerHost} processes, ${r.terminal} terminal`,
    'keypress to redraw:',
    row('one host', r.keyLatency.host),
    row('mesh-wide (all rows)', r.keyLatency.meshWide),
    row('all keys', r.keyLatency.all),
    `  target p99 < ${r.targets.keyP99Ms} ms: ${ok(r.keyLatency.all.p99 < r.targets.keyP99Ms)}`,
    'slowest keys (by p90):',
    ...r.slowestKeys.map(k => row(k.key, k)),
    'one redraw (render + diff + write):',
    row('any cause', r.redraw),
    `idle CPU over ${r.idleCpu.seconds} s (share of one core): one host ${r.idleCpu.host.toFixed(2)}%, mesh-wide ${r.idleCpu.meshWide.toFixed(2)}%`,
    `  target < ${r.targets.idleCpuPercent}%: ${ok(Math.max(r.idleCpu.host, r.idleCpu.meshWide) < r.targets.idleCpuPercent)}`
  ].join('\n')
}

function parseArgs (argv: string[]): TuiBenchOptions & { json: boolean } {
  const options: TuiBenchOptions & { json: boolean } = { json: false }
  const count = (flag: string, v: string | undefined): number => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) <= 0) throw new Error(`${flag}: expected a positive integer`)
    return Number(v)
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--json') options.json = true
    else if (arg === '--hosts') options.hosts = count(arg, argv[++i])
    else if (arg === '--procs') options.procs = count(arg, argv[++i])
    else if (arg === '--keys') options.keys = count(arg, argv[++i])
    else if (arg === '--idle-seconds') options.idleSeconds = count(arg, argv[++i])
    else throw new Error(`unknown argument ${arg}; usage: tui.js [--hosts 20] [--procs 1000] [--keys 200] [--idle-seconds 20] [--json]`)
  }
  return options
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv[0] === '--serve') {
    serve(argv[1], Number(argv[2]), Number(argv[3]))
    return
  }
  const { json, ...options } = parseArgs(argv)
  const result = await runTuiBench(options)
  printResult(json, formatTuiBench(result), result)
}

if (invokedDirectly(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`tui bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = 1
  })
}
