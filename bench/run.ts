/**
 * `npm run bench`: procmesh side by side with Serf, Glances and procps, on simulated hosts.
 *
 *   node dist/bench/run.js [--quick] [--only ROW[,ROW...]] [--sizes 2,5,10,20] [--no-install] [--out DIR]
 *
 * ROW is a number of issue 6 or a name: 1 snapshot, 2 join, 3 propagation, 4 query, 5 idle,
 * 6 bytes, 7 cli, 8 control (start + stop in-node, issue 3), 9 profile (where an idle node's CPU
 * goes at the largest size). --quick runs fewer rounds, shorter
 * windows and sizes 2,5. Everything that discovers peers runs inside simulated hosts (network,
 * PID, UTS and mount namespaces on a private bridge); in the root namespace only a node on
 * 127.0.0.1 with --no-mdns and a Serf agent on 127.0.0.1 without -discover (row 7).
 *
 * Writes bench/results/results.{md,json} for a full run, results-partial.{md,json} otherwise.
 * Needs root (namespaces). Installs serf, glances and procps with apt when missing
 * (bench/install.sh); a tool that cannot be installed is reported as not measured.
 */
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { harnessSkipReason } from '../testkit/sim-hosts.js'
import { buildFlavors, type Flavor } from './lib/flavors.js'
import { describeMachine, describeVersions } from './lib/machine.js'
import { DEFAULT_INTERVAL_MS, REPO } from './lib/pm.js'
import { renderMarkdown, type BenchResults, type BenchRow } from './lib/report.js'
import { destroyOpenNets } from './lib/sim.js'
import { runCliStart } from './rows/cli-start.js'
import { runMeshSize } from './rows/mesh.js'
import { runPair } from './rows/pair.js'
import { runProfile } from './rows/profile.js'
import { runSnapshot } from './rows/snapshot.js'
import { invokedDirectly } from './lib/entry.js'

const ROW_NAMES: Record<string, number> = {
  snapshot: 1, join: 2, propagation: 3, query: 4, idle: 5, bytes: 6, cli: 7, control: 8, profile: 9
}
/** Propagation and fan-out are compared at these sizes (issue 6). */
const QUERY_SIZES = [5, 20]

interface RunOptions {
  quick: boolean
  only: number[]
  sizes: number[]
  install: boolean
  out: string
}

interface Plan {
  snapshotCounts: number[]
  snapshotRounds: number
  joinRounds: number
  /** at 20 hosts and more every join waits for a busy machine: fewer rounds keep the run bounded */
  joinRoundsLarge: number
  propagationRounds: number
  disseminationSamples: number
  queryRounds: number
  bytesWindowMs: number
  listRounds: number
  cliRounds: number
  idleWindowMs: number
  controlRounds: number
  cliStartRounds: number
  profileWindowMs: number
  /** the whole run is abandoned (hosts destroyed) after this */
  watchdogMs: number
}

const FULL: Plan = {
  snapshotCounts: [500, 2000],
  snapshotRounds: 15,
  joinRounds: 10,
  joinRoundsLarge: 6,
  propagationRounds: 10,
  disseminationSamples: 15,
  queryRounds: 10,
  // a whole keep-alive period at 20 hosts (60 s): idle, keep-alives and probes are all there is
  bytesWindowMs: 60_000,
  listRounds: 30,
  cliRounds: 10,
  idleWindowMs: 60_000,
  controlRounds: 20,
  cliStartRounds: 20,
  profileWindowMs: 30_000,
  watchdogMs: 45 * 60_000
}

const QUICK: Plan = {
  snapshotCounts: [500, 2000],
  snapshotRounds: 5,
  joinRounds: 3,
  joinRoundsLarge: 3,
  propagationRounds: 3,
  disseminationSamples: 5,
  queryRounds: 3,
  bytesWindowMs: 30_000,
  listRounds: 10,
  cliRounds: 3,
  idleWindowMs: 15_000,
  controlRounds: 5,
  cliStartRounds: 5,
  profileWindowMs: 10_000,
  watchdogMs: 20 * 60_000
}

class UsageError extends Error {
  override name = 'UsageError'
}

const USAGE = 'usage: node dist/bench/run.js [--quick] [--only ROW[,ROW...]] [--sizes 2,5,10,20] [--no-install] [--out DIR]\n' +
  `  ROW: 1-9 or ${Object.keys(ROW_NAMES).join(', ')}`

export function parseRunArgs (argv: string[]): RunOptions {
  const opts: RunOptions = { quick: false, only: [], sizes: [], install: true, out: join(REPO, 'bench', 'results') }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`${arg}: needs a value`)
      return v
    }
    if (arg === '--quick') opts.quick = true
    else if (arg === '--no-install') opts.install = false
    else if (arg === '--out') opts.out = value()
    else if (arg === '--only') {
      for (const item of value().split(',')) {
        const row = ROW_NAMES[item] ?? Number(item)
        if (!Number.isInteger(row) || row < 1 || row > 9) throw new UsageError(`--only: unknown row ${JSON.stringify(item)}`)
        opts.only.push(row)
      }
    } else if (arg === '--sizes') {
      for (const item of value().split(',')) {
        const n = Number(item)
        if (!Number.isInteger(n) || n < 2 || n > 50) throw new UsageError(`--sizes: ${JSON.stringify(item)} is not a host count from 2 to 50`)
        opts.sizes.push(n)
      }
    } else if (arg === '--help' || arg === '-h') throw new UsageError(USAGE)
    else throw new UsageError(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`)
  }
  if (opts.sizes.length === 0) opts.sizes = opts.quick ? [2, 5] : [2, 5, 10, 20]
  opts.sizes = [...new Set(opts.sizes)].sort((a, b) => a - b)
  return opts
}

function log (line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`)
}

async function commandLine (file: string, args: string[]): Promise<string | undefined> {
  return await new Promise(resolve => {
    execFile(file, args, { timeout: 15_000, encoding: 'utf8' }, (err, stdout) => {
      resolve(err === null ? stdout.split('\n').find(l => l.trim() !== '')?.trim() : undefined)
    })
  })
}

async function install (): Promise<void> {
  log('checking serf, glances, procps (bench/install.sh)')
  await new Promise<void>(resolve => {
    execFile('sh', [join(REPO, 'bench', 'install.sh')], { timeout: 10 * 60_000 }, (err, _stdout, stderr) => {
      if (stderr.trim() !== '') log(stderr.trim())
      if (err !== null) log(`install.sh: ${err.message}`)
      resolve()
    })
  })
}

interface Tools {
  serf?: string
  glances?: string
}

async function findTools (): Promise<Tools> {
  const serf = await commandLine('serf', ['version'])
  // Glances' REST API needs bottle in the python that runs glances
  const bottle = await commandLine('/usr/bin/python3', ['-c', 'import bottle; print(bottle.__version__)'])
  const glances = bottle === undefined ? undefined : await commandLine('glances', ['--version'])
  return { serf, glances }
}

export async function runBench (opts: RunOptions): Promise<BenchResults> {
  const plan = opts.quick ? QUICK : FULL
  const want = (row: number): boolean => opts.only.length === 0 || opts.only.includes(row)
  const reason = harnessSkipReason()
  if (reason !== undefined) throw new Error(`the bench runs on simulated hosts: ${reason}`)
  if (opts.install) await install()
  const tools = await findTools()
  const started = new Date()
  const results: BenchResults = {
    startedAt: started.toISOString(),
    finishedAt: '',
    durationSeconds: 0,
    options: { quick: opts.quick, only: opts.only.map(String), sizes: opts.sizes },
    machine: await describeMachine(),
    versions: await describeVersions(),
    rows: [],
    notes: [],
    skipped: [],
    load: []
  }
  if (tools.serf === undefined) results.skipped.push('Serf: not installed and not installable here; rows 2, 3, 4 (fan-out), 5 and 7 have no Serf side')
  if (tools.glances === undefined) results.skipped.push('Glances (with its REST API): not installed and not installable here; rows 4 (remote list) and 5 have no Glances side')

  const step = async (name: string, fn: () => Promise<BenchRow[]>): Promise<void> => {
    const t0 = Date.now()
    // other work on the machine slows every side alike (alternation), but shows in absolute figures
    results.load.push({ step: name, load1: os.loadavg()[0] })
    try {
      results.rows.push(...await fn())
      log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
    } catch (err: unknown) {
      const message = err instanceof Error ? err.message : String(err)
      log(`${name}: FAILED: ${message}`)
      results.skipped.push(`${name}: failed: ${message.split('\n')[0]}`)
    }
  }

  // the shipped ways to run procmesh: npm package (bundle), single executable, source checkout
  const flavors = await buildFlavors(log)
  for (const f of ['package', 'executable'] as const) if (!flavors.includes(f)) results.skipped.push(`procmesh as the ${f}: could not be built here (see the log); rows 2 and 7 time the others`)
  results.versions['procmesh runs as'] = `${flavors[0]} (rows 2 and 7 also: ${flavors.slice(1).join(', ')})`
  await runRows(opts, plan, tools, flavors, want, step, results)
  results.rows.sort((a, b) => a.row - b.row || (a.hosts ?? 0) - (b.hosts ?? 0))
  results.notes.push(...analyse(results))
  const finished = new Date()
  results.finishedAt = finished.toISOString()
  results.durationSeconds = (finished.getTime() - started.getTime()) / 1000
  return results
}

type Step = (name: string, fn: () => Promise<BenchRow[]>) => Promise<void>

async function runRows (opts: RunOptions, plan: Plan, tools: Tools, flavors: Flavor[], want: (row: number) => boolean, step: Step, results: BenchResults): Promise<void> {
  if (want(1)) await step('row 1 (snapshot)', async () => await runSnapshot({ counts: plan.snapshotCounts, rounds: plan.snapshotRounds, log }))
  if (want(7)) await step('row 7 (CLI cold start)', async () => await runCliStart({ rounds: plan.cliStartRounds, serf: tools.serf !== undefined, flavors, log }))
  if (want(4) || want(5) || want(8)) {
    await step('rows 4, 5, 8 (two hosts)', async () => {
      const pair = await runPair({
        phases: { remoteList: want(4), idle: want(5), control: want(8) },
        procs: 500,
        listRounds: plan.listRounds,
        cliRounds: plan.cliRounds,
        idleWindowMs: plan.idleWindowMs,
        controlRounds: plan.controlRounds,
        intervalMs: DEFAULT_INTERVAL_MS,
        flavor: flavors[0],
        glances: tools.glances,
        serf: tools.serf !== undefined,
        log
      })
      results.notes.push(...pair.notes)
      return pair.rows
    })
  }
  const meshWanted = [2, 3, 4, 6].some(want)
  if (meshWanted && tools.serf === undefined) results.skipped.push('rows 2, 3, 4 (fan-out), 6: need Serf for the comparison; not run')
  else if (meshWanted) {
    for (const size of opts.sizes) {
      const phases = {
        join: want(2),
        propagation: want(3) && QUERY_SIZES.includes(size),
        query: want(4) && QUERY_SIZES.includes(size),
        bytes: want(6)
      }
      if (!Object.values(phases).some(Boolean)) continue
      await step(`mesh of ${size}`, async () => {
        const mesh = await runMeshSize({
          size,
          phases,
          joinRounds: size >= 20 ? plan.joinRoundsLarge : plan.joinRounds,
          propagationRounds: plan.propagationRounds,
          disseminationSamples: plan.disseminationSamples,
          queryRounds: plan.queryRounds,
          bytesWindowMs: plan.bytesWindowMs,
          intervalMs: DEFAULT_INTERVAL_MS,
          flavor: flavors[0],
          joinFlavors: flavors,
          log
        })
        results.skipped.push(...mesh.failures.map(f => `${f} (the other rows of this size stand)`))
        return mesh.rows
      })
    }
  }
  if (want(9)) {
    const hosts = Math.max(...opts.sizes)
    await step(`profile at ${hosts} hosts`, async () => {
      results.profile = await runProfile({ hosts, windowMs: plan.profileWindowMs, intervalMs: DEFAULT_INTERVAL_MS, flavor: flavors[0], log })
      return []
    })
  }
}

/** Groups of the profile's inclusive shares: what part of the node each package works for. */
const PROFILE_GROUPS: Array<[string, string[]]> = [
  ['gossipsub (receive, validate, forward, heartbeat)', ['@libp2p/gossipsub']],
  ['transport per byte (TCP, pnet XSalsa20, Noise, yamux)', ['@libp2p/pnet', '@chainsafe/libp2p-noise', '@libp2p/yamux']],
  ['mDNS (queries every 5 s, answers from every node)', ['multicast-dns', '@libp2p/mdns']],
  ['peer store', ['@libp2p/peer-store']],
  ['signatures (@libp2p/crypto)', ['@libp2p/crypto']],
  ['procmesh collector', ['procmesh node/collector', 'procmesh node/proc-parse']]
]

/** Cross-row conclusions: where a node's idle CPU goes, how gossip bytes and CPU grow with the mesh. */
function analyse (results: BenchResults): string[] {
  const rows = results.rows
  const notes: string[] = []
  const snap = rows.find(r => r.key.startsWith('snapshot-ps@') && Number(r.key.split('@')[1]) < 1000)
  const idle = rows.find(r => r.key.startsWith('idle-cpu-vs-glances@'))
  if (snap?.procmesh.stats !== undefined && idle?.procmesh.stats !== undefined) {
    const collector = snap.procmesh.stats.median / DEFAULT_INTERVAL_MS * 100
    notes.push(`Idle CPU on the 500-process host: one steady /proc scan takes ${snap.procmesh.stats.median.toFixed(1)} ms (row 1), i.e. ${collector.toFixed(2)}% of a core at one scan per ${DEFAULT_INTERVAL_MS / 1000} s, of the node's ${idle.procmesh.stats.median.toFixed(2)}% measured (row 5); the rest is the mesh (see the profile and the per-size idle CPU of row 6) and the runtime.`)
  }
  const cpu = rows.filter(r => r.key.startsWith('mesh-idle-cpu@') && r.procmesh.stats !== undefined)
  if (cpu.length >= 2) {
    const largest = cpu[cpu.length - 1]
    const total = (largest.procmesh.stats?.mean ?? 0) * (largest.hosts ?? 0)
    notes.push(`Idle CPU per node grows with the mesh: ${cpu.map(r => `${r.hosts ?? 0} hosts ${r.procmesh.stats?.median.toFixed(2) ?? '?'}%`).join(', ')} of a core (Serf: ${cpu.map(r => `${r.peer?.stats?.median.toFixed(2) ?? '?'}%`).join(', ')}). At ${largest.hosts ?? 0} hosts the nodes together take ${total.toFixed(0)}% of one core of this ${results.machine.cores}-core machine while idle, which is also load on every other figure measured at that size.`)
  }
  const p = results.profile
  if (p !== undefined) {
    const share = (names: string[]): number => Math.max(0, ...p.inclusive.filter(x => names.includes(x.name)).map(x => x.percent))
    const groups = PROFILE_GROUPS.map(([label, names]) => `${label} ${share(names).toFixed(0)}%`).join(', ')
    const gc = p.byCategory.find(c => c.name === '(garbage collector)')?.percent ?? 0
    notes.push(`Profile of one idle node at ${p.hosts} hosts (${p.cpuPercent.toFixed(1)}% of a core): share of its busy samples under each part (inclusive, overlapping): ${groups}; garbage collection ${gc.toFixed(0)}% (self).`)
  }
  const bytes = rows.filter(r => r.key.startsWith('gossip-bytes@') && r.procmesh.stats !== undefined && (r.hosts ?? 0) > 1)
  if (bytes.length >= 2) {
    const perPair = bytes.map(r => `${r.hosts ?? 0} hosts ${((r.procmesh.stats?.mean ?? 0) / ((r.hosts ?? 2) - 1) / (1000 / DEFAULT_INTERVAL_MS)).toFixed(0)} B`)
    notes.push(`Gossip bytes per node grow with the mesh because every node must hear every other node's summary each interval (Serf idles on membership probes only and carries no host data). Normalised by that, bytes sent per node per other node's summary: ${perPair.join(', ')}; flat or falling means the overhead per summary does not grow with the number of hosts.`)
  }
  return notes
}

async function main (): Promise<void> {
  let opts: RunOptions
  try {
    opts = parseRunArgs(process.argv.slice(2))
  } catch (err: unknown) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 2
    return
  }
  const plan = opts.quick ? QUICK : FULL
  const abort = (why: string, code: number): void => {
    log(`${why}: destroying simulated hosts`)
    destroyOpenNets().finally(() => { process.exit(code) })
  }
  const onSignal = (signal: NodeJS.Signals): void => { abort(`${signal} received`, 130) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const watchdog = setTimeout(() => { abort(`still running after ${plan.watchdogMs / 60_000} min`, 1) }, plan.watchdogMs)
  watchdog.unref()
  try {
    const results = await runBench(opts)
    const full = !opts.quick && opts.only.length === 0
    const base = full ? 'results' : 'results-partial'
    await mkdir(opts.out, { recursive: true })
    const md = renderMarkdown(results)
    await writeFile(join(opts.out, `${base}.json`), JSON.stringify(results, null, 2) + '\n')
    await writeFile(join(opts.out, `${base}.md`), md)
    process.stdout.write(md)
    log(`wrote ${join(opts.out, `${base}.md`)} and ${base}.json in ${Math.round(results.durationSeconds)} s`)
  } finally {
    clearTimeout(watchdog)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

if (invokedDirectly(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = 1
  })
}
