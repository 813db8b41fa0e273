/**
 * Durable history benchmark (issue 14).
 *
 *   node dist/bench/history.js [--procs 500] [--hours 24] [--queries 30] [--idle-seconds 40] [--no-idle] [--json]
 *
 * 1. Recording cost: a HistoryRecorder fed `--hours` of synthetic 500-process snapshots at a
 *    2 s interval (CPU figures that wander, a process ending and another starting every few
 *    samples), timed per sample: the CPU recording adds at a 2 s interval.
 * 2. Disk per day: the bytes those hours took on disk, scaled to 24 h.
 * 3. A 24 h range of one host answered from another: two real nodes on 127.0.0.1 (libp2p,
 *    pnet, Noise, yamux), the second started on the home the synthetic day was written to;
 *    the first asks it over /procmesh/history for the last 24 h at 500 points with the top 10
 *    (and once with --events): p50/p99 and the bytes of the answer.
 * 4. Idle CPU of a real `procmesh node` (this host topped up to --procs processes with sleeps)
 *    with recording on and with `--history 0`, alternated A B A B.
 * The figures are as noisy as the machine running them: say how loaded it was.
 */
import '../node/polyfill.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, copyFileSync, mkdirSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { peerIdFromString } from '@libp2p/peer-id'
import { HistoryRecorder } from '../node/host/history/recorder.js'
import { HistoryStore } from '../node/host/history/store.js'
import { silentLogger } from '../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../node/procmesh-node.js'
import { request } from '../node/mesh/reqresp.js'
import { HISTORY } from '../protocols/messages.js'
import { encodeFrame, okFrame } from '../protocols/wire.js'
import type { ProcessInfo, Snapshot } from '../protocols/types.js'
import { invokedDirectly, printResult } from './lib/entry.js'

const INTERVAL = 2000
const NAMES = ['nginx', 'postgres', 'node', 'python3', 'java', 'redis-server', 'sshd', 'bash', 'cron', 'systemd-journal', 'containerd', 'dockerd', 'php-fpm', 'gunicorn', 'sidekiq']

/** A deterministic pseudo-random sequence (xorshift), so runs compare. */
function rng (seed: number): () => number {
  let x = seed
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return ((x >>> 0) % 1_000_000) / 1_000_000 }
}

class SyntheticHost {
  private readonly rand = rng(42)
  private procs: ProcessInfo[] = []
  private nextPid = 1000

  constructor (n: number, start: number) {
    for (let i = 0; i < n; i++) this.procs.push(this.make(start - 86_400_000 * this.rand()))
  }

  private make (startTime: number): ProcessInfo {
    const name = NAMES[Math.floor(this.rand() * NAMES.length)]
    const pid = this.nextPid++
    return { pid, ppid: 1, uid: 1000, user: this.rand() < 0.5 ? 'www-data' : 'root', name, cmd: `/usr/bin/${name} --config /etc/${name}/${name}.conf --worker ${pid}`, state: 'S', cpuPercent: 0, rss: Math.round(5e6 + this.rand() * 3e8), startTime: Math.round(startTime) }
  }

  snapshot (at: number): Snapshot {
    // churn: a process ends and another starts every ~3 samples (~14,000 events a day)
    if (this.rand() < 0.35) {
      this.procs.splice(Math.floor(this.rand() * this.procs.length), 1)
      this.procs.push(this.make(at - this.rand() * INTERVAL))
    }
    let total = 0
    for (const p of this.procs) {
      // most processes idle; a tenth busy with wandering figures
      p.cpuPercent = p.pid % 10 === 0 ? Math.max(0, Math.min(100, p.cpuPercent + (this.rand() - 0.5) * 10)) : (this.rand() < 0.05 ? this.rand() * 2 : 0)
      p.rss = Math.max(1e6, p.rss + Math.round((this.rand() - 0.5) * 1e5))
      total += p.cpuPercent
    }
    return {
      collectedAt: at,
      host: { hostname: 'synthetic', platform: 'linux', arch: 'x64', cpus: 8, cpuPercent: Math.min(100, total / 8), load: [total / 100, 0, 0], memTotal: 32e9, memUsed: 8e9 + this.rand() * 1e9, uptime: 1000 },
      processes: this.procs.map(p => ({ ...p }))
    }
  }
}

/** Bytes of the response frame on the wire (before Noise and yamux framing). */
function encodeFrameSize (result: unknown): number {
  return encodeFrame(okFrame(result)).length
}

function dirBytes (dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0)
}

function quantile (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

export interface HistoryBenchResult {
  procs: number
  hoursRecorded: number
  recordUsPerSampleP50: number
  recordUsPerSampleMean: number
  recordCorePercentAt2s: number
  diskBytesPerDay: number
  /** the 24 h question answered in-process, no network */
  localRangeP50Ms: number
  range24h: { p50Ms: number, p99Ms: number, bytes: number, points: number, withEventsMs: number, withEventsBytes: number, events: number }
  idle?: { onPercent: number[], offPercent: number[] }
  load: number[]
}

async function writeDay (home: string, procs: number, hours: number, log: (s: string) => void): Promise<{ perSampleUs: number[], bytes: number, localP50Ms: number }> {
  const end = Date.now()
  const start = end - hours * 3_600_000
  const clock = { t: start }
  const store = new HistoryStore({ dir: join(home, 'history'), log: silentLogger, now: () => clock.t })
  const recorder = new HistoryRecorder({ store, intervalMs: INTERVAL, log: silentLogger })
  recorder.start()
  const host = new SyntheticHost(procs, start)
  const perSampleUs: number[] = []
  for (let t = start, i = 0; t < end; t += INTERVAL, i++) {
    clock.t = t
    const snap = host.snapshot(t)
    const t0 = performance.now()
    recorder.record(snap)
    perSampleUs.push((performance.now() - t0) * 1000)
    if (i % 5000 === 0) log(`recorded ${new Date(t).toISOString()}`)
  }
  recorder.stop()
  // the same 24 h question answered in-process (no network): what the store itself costs
  recorder.start()
  const local: number[] = []
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now()
    recorder.query({ type: 'history', from: end - 86_400_000, to: end, points: 500, top: 10 })
    local.push(performance.now() - t0)
  }
  recorder.stop()
  return { perSampleUs, bytes: dirBytes(join(home, 'history')), localP50Ms: quantile(local, 0.5) }
}

async function startNode (home: string, name: string, bootstrap: string[]): Promise<ProcmeshNode> {
  const node = await createProcmeshNode({ ...defaultNodeConfig(home), name, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, mdns: false }, silentLogger)
  await node.start()
  return node
}

async function rangeFigures (homeB: string, queries: number): Promise<HistoryBenchResult['range24h']> {
  const homeA = mkdtempSync(join(tmpdir(), 'procmesh-bench-a-'))
  const nodeB = await startNode(homeB, 'b', [])
  mkdirSync(homeA, { recursive: true, mode: 0o700 })
  copyFileSync(join(homeB, 'swarm.key'), join(homeA, 'swarm.key'))
  const nodeA = await startNode(homeA, 'a', nodeB.addrs())
  try {
    const peer = peerIdFromString(nodeB.peerId)
    const now = Date.now()
    const req = { type: 'history' as const, from: now - 86_400_000, to: now, points: 500, top: 10 }
    const times: number[] = []
    let bytes = 0
    let points = 0
    for (let i = 0; i < queries + 3; i++) {
      const t0 = performance.now()
      const r = await request(nodeA.libp2p, peer, HISTORY, req, { timeoutMs: 30_000 })
      const ms = performance.now() - t0
      if (i >= 3) times.push(ms)
      bytes = encodeFrameSize(r)
      points = r.points.length
    }
    const t0 = performance.now()
    const withEvents = await request(nodeA.libp2p, peer, HISTORY, { ...req, events: true }, { timeoutMs: 30_000 })
    const withEventsMs = performance.now() - t0
    return { p50Ms: quantile(times, 0.5), p99Ms: quantile(times, 0.99), bytes, points, withEventsMs, withEventsBytes: encodeFrameSize(withEvents), events: withEvents.events?.length ?? 0 }
  } finally {
    await nodeA.stop()
    await nodeB.stop()
    rmSync(homeA, { recursive: true, force: true })
  }
}

/** utime + stime of a pid in clock ticks (100 a second on Linux). */
function cpuTicks (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

async function idleFigure (history: boolean, seconds: number): Promise<number> {
  const home = mkdtempSync(join(tmpdir(), 'procmesh-bench-idle-'))
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'procmesh.js')
  const child = spawn(process.execPath, [bin, 'node', '--home', home, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', ...(history ? [] : ['--history', '0'])], { stdio: 'ignore' })
  try {
    await new Promise(resolve => setTimeout(resolve, 8000))
    const pid = child.pid ?? 0
    const a = cpuTicks(pid)
    const t0 = performance.now()
    await new Promise(resolve => setTimeout(resolve, seconds * 1000))
    const b = cpuTicks(pid)
    return ((b - a) / 100) / ((performance.now() - t0) / 1000) * 100
  } finally {
    child.kill('SIGTERM')
    await new Promise(resolve => child.once('exit', resolve))
    rmSync(home, { recursive: true, force: true })
  }
}

function topUp (procs: number): ChildProcess[] {
  const have = readdirSync('/proc').filter(n => /^\d+$/.test(n)).length
  const sleeps: ChildProcess[] = []
  for (let i = have; i < procs; i++) sleeps.push(spawn('sleep', ['3600'], { stdio: 'ignore' }))
  return sleeps
}

export async function runHistoryBench (opts: { procs?: number, hours?: number, queries?: number, idleSeconds?: number, idle?: boolean, log?: (s: string) => void } = {}): Promise<HistoryBenchResult> {
  const procs = opts.procs ?? 500
  const hours = opts.hours ?? 24
  const log = opts.log ?? ((s: string) => { process.stderr.write(`${s}\n`) })
  const homeB = mkdtempSync(join(tmpdir(), 'procmesh-bench-b-'))
  try {
    log(`writing ${hours} h of ${procs}-process samples`)
    const { perSampleUs, bytes, localP50Ms } = await writeDay(homeB, procs, hours, log)
    const mean = perSampleUs.reduce((s, x) => s + x, 0) / perSampleUs.length
    log('asking for 24 h from another node')
    const range24h = await rangeFigures(homeB, opts.queries ?? 30)
    let idle: HistoryBenchResult['idle']
    if (opts.idle !== false) {
      const sleeps = topUp(procs)
      try {
        idle = { onPercent: [], offPercent: [] }
        for (let round = 0; round < 2; round++) {
          log(`idle round ${round + 1}: recording on`)
          idle.onPercent.push(await idleFigure(true, opts.idleSeconds ?? 40))
          log(`idle round ${round + 1}: recording off`)
          idle.offPercent.push(await idleFigure(false, opts.idleSeconds ?? 40))
        }
      } finally {
        for (const s of sleeps) s.kill('SIGKILL')
      }
    }
    return {
      procs,
      hoursRecorded: hours,
      recordUsPerSampleP50: quantile(perSampleUs, 0.5),
      recordUsPerSampleMean: mean,
      recordCorePercentAt2s: mean / 1000 / INTERVAL * 100,
      diskBytesPerDay: bytes / hours * 24,
      localRangeP50Ms: localP50Ms,
      range24h,
      idle,
      load: loadavg()
    }
  } finally {
    rmSync(homeB, { recursive: true, force: true })
  }
}

function format (r: HistoryBenchResult): string {
  const f = (n: number, d = 1): string => n.toFixed(d)
  const lines = [
    `history bench: ${r.procs} processes, ${r.hoursRecorded} h recorded at 2 s; load average ${r.load.map(x => f(x, 2)).join(' ')}`,
    `recording, per sample:        p50 ${f(r.recordUsPerSampleP50, 0)} us, mean ${f(r.recordUsPerSampleMean, 0)} us  ->  ${f(r.recordCorePercentAt2s, 3)}% of a core at a 2 s interval`,
    `disk per day:                 ${f(r.diskBytesPerDay / 1e6)} MB`,
    `24 h range in-process:        p50 ${f(r.localRangeP50Ms)} ms`,
    `24 h range from another node: p50 ${f(r.range24h.p50Ms)} ms, p99 ${f(r.range24h.p99Ms)} ms, ${r.range24h.points} points, ${f(r.range24h.bytes / 1024)} KiB`,
    `  ... with --events:          ${f(r.range24h.withEventsMs)} ms, ${r.range24h.events} events, ${f(r.range24h.withEventsBytes / 1024)} KiB`
  ]
  if (r.idle !== undefined) lines.push(`node idle CPU, recording on:  ${r.idle.onPercent.map(x => f(x, 2)).join(' / ')}% ; off: ${r.idle.offPercent.map(x => f(x, 2)).join(' / ')}%`)
  return lines.join('\n')
}

if (invokedDirectly(import.meta.url)) {
  const args = process.argv.slice(2)
  const num = (flag: string): number | undefined => { const i = args.indexOf(flag); return i >= 0 ? Number(args[i + 1]) : undefined }
  runHistoryBench({ procs: num('--procs'), hours: num('--hours'), queries: num('--queries'), idleSeconds: num('--idle-seconds'), idle: !args.includes('--no-idle') })
    .then(r => { printResult(args.includes('--json'), format(r), r); process.exit(0) })
    .catch((err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exit(1) })
}
