/**
 * Collector benchmark: how long one ProcessCollector.sample() takes against ps-list, procps `ps`
 * and `top -b -n1` on the same host, and how long the collector blocks the event loop.
 *
 *   node dist/bench/collector.js [--procs 500] [--rounds 15] [--block-procs 1000] [--json]
 *
 * It tops the host up to --procs processes with `sleep 600` children (killed at the end, also on
 * error or Ctrl-C), takes a warm-up sample, then runs the four tools in turn (A B C D A B C D ...)
 * so drift in the host's load hits all of them alike. Linux only: it compares against procps.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { ProcessCollector } from '../node/host/collector.js'
import { invokedDirectly, printResult } from './lib/entry.js'

export interface CollectorBenchOptions {
  /** processes on the host while timing (default 500) */
  procs?: number
  /** runs of each tool (default 15) */
  rounds?: number
  /** processes on the host while measuring event-loop blocking (default 1000) */
  blockProcs?: number
  /** progress lines (default: stderr) */
  log?: (line: string) => void
}

export interface TimingSummary {
  runs: number
  median: number
  /** nearest rank: with 15 runs this is the slowest one */
  p99: number
  min: number
  max: number
}

export type BenchTool = 'procmesh' | 'psList' | 'ps' | 'top'

export interface CollectorBenchResult {
  host: { kernel: string, cpus: number, node: string }
  /** processes on the host (all of /proc) when the timing rounds started and ended */
  procs: { target: number, atStart: number, atEnd: number }
  rounds: number
  /** first sample of a new collector: every process is new, so status and cmdline are read too */
  coldSampleMs: number
  timings: Record<BenchTool, TimingSummary>
  ratios: {
    /** median procmesh / median ps-list: below 0.5 is the target */
    procmeshOverPsList: number
    /** median procmesh / median ps: below 1.5 is the target */
    procmeshOverPs: number
  }
  eventLoop: {
    procs: number
    samples: number
    /** longest gap between two turns of the event loop while sampling (setImmediate probe) */
    maxBlockMs: number
    /** max of monitorEventLoopDelay (resolution 1 ms) over the same samples */
    histogramMaxMs: number
    /** 99th percentile of the event-loop turns during those samples */
    p99TurnMs: number
    /** the same over the first (cold) samples of COLD_SAMPLES new collectors */
    coldMaxBlockMs: number
    /**
     * of the turns above, the longest time the main thread was on a CPU (schedstat): what the
     * collector itself costs a turn, without the time the kernel made it wait for a CPU
     */
    maxOnCpuMs?: number
    coldMaxOnCpuMs?: number
    /**
     * longest gap over the same wall time while the loop runs nothing but busy-waits of 0.5 ms
     * (about a collector slice): the host's own jitter under load (preemption, a VM's stolen
     * time, CPU quota), which every figure above includes
     */
    baselineMaxGapMs: number
  }
  targets: { twiceAsFastAsPsList: boolean, withinOneAndAHalfOfPs: boolean, blockUnder10ms: boolean }
}

const SLEEP_SECONDS = '600'
const PS_ARGS = ['-eo', 'pid,ppid,user,comm,args,stat,pcpu,rss,lstart']
const TOP_ARGS = ['-b', '-n1']
/** children spawned before waiting for them: spawning thousands at once only queues in the kernel */
const SPAWN_BATCH = 100
const EVENT_LOOP_SAMPLES = 20
const BASELINE_SLICE_MS = 0.5
const COLD_SAMPLES = 3
const SETTLE_MS = 500
const TARGET_PS_LIST_RATIO = 0.5
const TARGET_PS_RATIO = 1.5
const TARGET_BLOCK_MS = 10

export async function runCollectorBench (opts: CollectorBenchOptions = {}): Promise<CollectorBenchResult> {
  if (process.platform !== 'linux') throw new Error('the collector bench compares against procps: Linux only')
  const target = opts.procs ?? 500
  const rounds = opts.rounds ?? 15
  const blockProcs = opts.blockProcs ?? 1000
  const log = opts.log ?? ((line: string) => { process.stderr.write(`${line}\n`) })
  const pool = new SleepPool()
  const onSignal = (signal: NodeJS.Signals): void => {
    pool.killAll()
    process.kill(process.pid, signal)
  }
  const onExit = (): void => { pool.killAll() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.once('exit', onExit)
  try {
    const { default: psList } = await import('ps-list')
    await pool.resize(target)
    const atStart = hostProcCount()
    log(`host has ${atStart} processes (${pool.size} sleep children)`)

    const collector = new ProcessCollector()
    const coldStart = performance.now()
    await collector.sample()
    const coldSampleMs = performance.now() - coldStart

    const tools: Record<BenchTool, () => Promise<unknown>> = {
      procmesh: async () => await collector.sample(),
      psList: async () => await psList(),
      ps: async () => { await runToExit('ps', PS_ARGS) },
      top: async () => { await runToExit('top', TOP_ARGS) }
    }
    const names = Object.keys(tools) as BenchTool[]
    for (const name of names) await tools[name]() // warm-up: page cache, JIT, ps-list's import
    const times: Record<BenchTool, number[]> = { procmesh: [], psList: [], ps: [], top: [] }
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        const start = performance.now()
        await tools[name]()
        times[name].push(performance.now() - start)
      }
    }
    const atEnd = hostProcCount()
    const timings = {
      procmesh: summarize(times.procmesh),
      psList: summarize(times.psList),
      ps: summarize(times.ps),
      top: summarize(times.top)
    }
    log(`timed ${rounds} rounds at ${atStart}..${atEnd} processes`)

    await pool.resize(blockProcs)
    // let the exits of killed children settle: their reaping is not the collector's doing
    await new Promise(resolve => setTimeout(resolve, SETTLE_MS))
    const blockAt = hostProcCount()
    log(`measuring event-loop blocking at ${blockAt} processes`)
    let blockCollector = new ProcessCollector()
    const cold = await measureBlocking(async () => {
      for (let i = 0; i < COLD_SAMPLES; i++) {
        blockCollector = new ProcessCollector()
        await blockCollector.sample()
      }
    })
    const steadyStart = performance.now()
    const steady = await measureBlocking(async () => {
      for (let i = 0; i < EVENT_LOOP_SAMPLES; i++) await blockCollector.sample()
    })
    const steadyMs = performance.now() - steadyStart
    const baseline = await measureBlocking(async () => { await busyInSlices(steadyMs, BASELINE_SLICE_MS) })

    const ratios = {
      procmeshOverPsList: timings.procmesh.median / timings.psList.median,
      procmeshOverPs: timings.procmesh.median / timings.ps.median
    }
    return {
      host: { kernel: os.release(), cpus: os.cpus().length, node: process.version },
      procs: { target, atStart, atEnd },
      rounds,
      coldSampleMs,
      timings,
      ratios,
      eventLoop: {
        procs: blockAt,
        samples: EVENT_LOOP_SAMPLES,
        maxBlockMs: steady.maxGapMs,
        histogramMaxMs: steady.histogramMaxMs,
        p99TurnMs: steady.p99GapMs,
        coldMaxBlockMs: cold.maxGapMs,
        maxOnCpuMs: steady.maxOnCpuMs,
        coldMaxOnCpuMs: cold.maxOnCpuMs,
        baselineMaxGapMs: baseline.maxGapMs
      },
      targets: {
        twiceAsFastAsPsList: ratios.procmeshOverPsList <= TARGET_PS_LIST_RATIO,
        withinOneAndAHalfOfPs: ratios.procmeshOverPs <= TARGET_PS_RATIO,
        blockUnder10ms: Math.max(steady.maxGapMs, cold.maxGapMs) <= TARGET_BLOCK_MS
      }
    }
  } finally {
    pool.killAll()
    await pool.drained()
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    process.removeListener('exit', onExit)
  }
}

/** The result as a markdown table plus the event-loop figures. */
export function formatCollectorBench (result: CollectorBenchResult): string {
  const row = (label: string, t: TimingSummary, ratio: string): string =>
    `| ${label} | ${t.median.toFixed(1)} | ${t.p99.toFixed(1)} | ${ratio} |`
  const vs = (t: TimingSummary): string => `${(result.timings.procmesh.median / t.median).toFixed(2)}`
  const { procs, eventLoop: loop, targets } = result
  const mark = (ok: boolean): string => ok ? 'met' : 'MISSED'
  return [
    `Collector bench: ${procs.atStart}..${procs.atEnd} processes, ${result.rounds} rounds, ` +
      `${result.host.cpus} CPUs, Linux ${result.host.kernel}, Node ${result.host.node}`,
    '',
    '| tool | median ms | p99 ms | procmesh / tool (median) |',
    '|---|---:|---:|---:|',
    row('procmesh ProcessCollector.sample() (steady)', result.timings.procmesh, '1.00'),
    row('ps-list', result.timings.psList, vs(result.timings.psList)),
    row(`ps ${PS_ARGS.join(' ')}`, result.timings.ps, vs(result.timings.ps)),
    row(`top ${TOP_ARGS.join(' ')}`, result.timings.top, vs(result.timings.top)),
    '',
    `cold first sample: ${result.coldSampleMs.toFixed(1)} ms`,
    `procmesh/ps-list ${result.ratios.procmeshOverPsList.toFixed(2)} (target <= ${TARGET_PS_LIST_RATIO}: ` +
      `${mark(targets.twiceAsFastAsPsList)}), procmesh/ps ${result.ratios.procmeshOverPs.toFixed(2)} ` +
      `(target <= ${TARGET_PS_RATIO}: ${mark(targets.withinOneAndAHalfOfPs)})`,
    `event loop at ${loop.procs} processes: max block ${loop.maxBlockMs.toFixed(2)} ms over ${loop.samples} ` +
      `steady samples (p99 turn ${loop.p99TurnMs.toFixed(2)} ms, histogram max ${loop.histogramMaxMs.toFixed(2)} ms), ` +
      `${loop.coldMaxBlockMs.toFixed(2)} ms over ${COLD_SAMPLES} cold samples (target <= ${TARGET_BLOCK_MS} ms: ` +
      `${mark(targets.blockUnder10ms)}); the same probe around 0.5 ms busy-waits instead: max ${loop.baselineMaxGapMs.toFixed(2)} ms`,
    `longest time on a CPU within one turn (schedstat, without waiting for a CPU): ${ms(loop.maxOnCpuMs)} steady, ` +
      `${ms(loop.coldMaxOnCpuMs)} cold`
  ].join('\n')
}

function ms (value: number | undefined): string {
  return value === undefined ? 'n/a' : `${value.toFixed(2)} ms`
}

/** `sleep 600` children that bring the host to a given process count. */
class SleepPool {
  private readonly children = new Set<ChildProcess>()
  private readonly exits = new Set<Promise<void>>()

  get size (): number {
    return this.children.size
  }

  /** Spawn or kill children until the host has about `procs` processes. */
  async resize (procs: number): Promise<void> {
    let missing = procs - hostProcCount()
    while (missing > 0) {
      const batch = Math.min(missing, SPAWN_BATCH)
      await Promise.all(Array.from({ length: batch }, async () => { await this.spawnOne() }))
      missing = procs - hostProcCount()
    }
    const surplus = Math.min(hostProcCount() - procs, this.children.size)
    if (surplus > 0) {
      const victims = [...this.children].slice(0, surplus)
      for (const child of victims) child.kill('SIGKILL')
      await Promise.all(victims.map(async child => { await exited(child) }))
    }
  }

  killAll (): void {
    for (const child of this.children) child.kill('SIGKILL')
  }

  async drained (): Promise<void> {
    await Promise.all(this.exits)
  }

  private async spawnOne (): Promise<void> {
    const child = spawn('sleep', [SLEEP_SECONDS], { stdio: 'ignore', shell: false })
    this.children.add(child)
    const exit = exited(child).then(() => { this.children.delete(child) })
    this.exits.add(exit)
    void exit.finally(() => { this.exits.delete(exit) })
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
  }
}

function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => {
    child.once('close', () => { resolve() })
    // a child that never started (EAGAIN at the process limit) may never emit 'close'
    child.once('error', () => { resolve() })
  })
}

function hostProcCount (): number {
  let count = 0
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0)
    if (c >= 0x30 && c <= 0x39) count++
  }
  return count
}

/** Run a program to its exit with stdout read and thrown away; reject on a non-zero exit. */
function runToExit (file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'], shell: false, env: { ...process.env, LC_ALL: 'C' } })
    child.stdout.resume()
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`${file} exited with ${code ?? signal ?? 'nothing'}`))
    })
  })
}

interface Blocking {
  /** longest wall-clock gap between two turns of the event loop */
  maxGapMs: number
  p99GapMs: number
  /** monitorEventLoopDelay's max over the same time */
  histogramMaxMs: number
  /**
   * longest time the main thread actually ran within one turn (from /proc/thread-self/schedstat):
   * the wall gap minus the time the kernel kept it waiting for a CPU; undefined without schedstat
   */
  maxOnCpuMs?: number
}

/** Longest event-loop turn while `work` runs, by a setImmediate probe and by the ELD histogram. */
async function measureBlocking (work: () => Promise<void>): Promise<Blocking> {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  const gaps: number[] = []
  let maxOnCpuMs: number | undefined
  let last = performance.now()
  let lastOnCpu = onCpuNs()
  let probing = true
  const probe = (): void => {
    const now = performance.now()
    gaps.push(now - last)
    last = now
    const onCpu = onCpuNs()
    if (onCpu !== undefined && lastOnCpu !== undefined) {
      maxOnCpuMs = Math.max(maxOnCpuMs ?? 0, (onCpu - lastOnCpu) / 1e6)
    }
    lastOnCpu = onCpu
    if (probing) setImmediate(probe)
  }
  histogram.enable()
  setImmediate(probe)
  try {
    await work()
  } finally {
    probing = false
    histogram.disable()
  }
  // the histogram records whole timer intervals in ns: subtract the 1 ms it was meant to wait
  const turns = summarize(gaps.length > 0 ? gaps : [0])
  return { maxGapMs: turns.max, p99GapMs: turns.p99, histogramMaxMs: Math.max(0, histogram.max / 1e6 - 1), maxOnCpuMs }
}

/** ns the calling thread has spent on a CPU (first field of schedstat), or undefined. */
function onCpuNs (): number | undefined {
  try {
    const text = readFileSync('/proc/thread-self/schedstat', 'utf8')
    const ns = Number(text.slice(0, text.indexOf(' ')))
    return Number.isFinite(ns) ? ns : undefined
  } catch {
    return undefined
  }
}

/** Busy-wait in slices of `sliceMs`, yielding between them, for `totalMs`: a stand-in collector. */
async function busyInSlices (totalMs: number, sliceMs: number): Promise<void> {
  const end = performance.now() + totalMs
  while (performance.now() < end) {
    const sliceEnd = performance.now() + sliceMs
    while (performance.now() < sliceEnd) { /* busy */ }
    await new Promise(resolve => setImmediate(resolve))
  }
}

function summarize (values: number[]): TimingSummary {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { runs: sorted.length, median, p99: rank(0.99), min: sorted[0], max: sorted[sorted.length - 1] }
}

function parseArgs (argv: string[]): CollectorBenchOptions & { json: boolean } {
  const options: CollectorBenchOptions & { json: boolean } = { json: false }
  const count = (flag: string, value: string | undefined): number => {
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${flag}: expected a positive integer, got ${String(value)}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--json') options.json = true
    else if (arg === '--procs') options.procs = count(arg, argv[++i])
    else if (arg === '--rounds') options.rounds = count(arg, argv[++i])
    else if (arg === '--block-procs') options.blockProcs = count(arg, argv[++i])
    else throw new Error(`unknown argument ${arg}; usage: collector.js [--procs N] [--rounds N] [--block-procs N] [--json]`)
  }
  return options
}

async function main (): Promise<void> {
  const { json, ...options } = parseArgs(process.argv.slice(2))
  const result = await runCollectorBench(options)
  printResult(json, formatCollectorBench(result), result)
}

if (invokedDirectly(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`collector bench failed: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  })
}
