/**
 * Row 1: one full process snapshot at ~500 and ~2,000 processes — the procmesh collector
 * (steady state, as a running node samples) vs ps-list vs procps `ps -eo ...` vs `top -b -n1`,
 * taken in turn on the same process set inside a simulated host.
 */
import { join } from 'node:path'
import type { CollectorBenchResult, TimingSummary } from '../collector.js'
import { REPO } from '../lib/pm.js'
import type { BenchRow, Side } from '../lib/report.js'
import { openSimNet } from '../lib/sim.js'
import type { Stats } from '../lib/stats.js'

const WORKER = join(REPO, 'dist', 'bench', 'rows', 'snapshot-worker.js')
/** issue 2: no event-loop block over 10 ms at 1,000 processes */
const BLOCK_TARGET_MS = 10

export interface SnapshotOptions {
  counts: number[]
  rounds: number
  log: (line: string) => void
}

function toStats (t: TimingSummary): Stats {
  return { runs: t.runs, median: t.median, p99: t.p99, min: t.min, max: t.max, mean: t.median }
}

export async function runSnapshot (opts: SnapshotOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const net = await openSimNet(1)
  try {
    const host = net.hosts[0]
    for (const count of opts.counts) {
      // event-loop blocking is judged at 1,000 processes (issue 2) or at the count itself above that
      const blockProcs = Math.max(count, 1000)
      opts.log(`snapshot: ${count} processes, ${opts.rounds} rounds`)
      const r = await host.exec([process.execPath, WORKER, String(count), String(opts.rounds), String(blockProcs)], { timeoutMs: 600_000 })
      if (r.code !== 0) throw new Error(`snapshot worker at ${count} processes exited ${String(r.code)}: ${r.stderr.slice(-2000)}`)
      const result = JSON.parse(r.stdout) as CollectorBenchResult
      const procs = result.procs.atStart
      const pm: Side = { tool: 'procmesh collector (steady sample)', unit: 'ms', stats: toStats(result.timings.procmesh) }
      const loop = result.eventLoop
      const pmOver = (t: TimingSummary): number => result.timings.procmesh.median / t.median
      opts.log(`snapshot at ${procs}: procmesh ${result.timings.procmesh.median.toFixed(1)} ms, ps-list ${result.timings.psList.median.toFixed(1)}, ps ${result.timings.ps.median.toFixed(1)}, top ${result.timings.top.median.toFixed(1)}; max block ${loop.maxBlockMs.toFixed(1)} ms`)
      const common = { row: 1, hosts: undefined, procmesh: pm }
      rows.push(
        {
          ...common,
          key: `snapshot-ps-list@${procs}`,
          title: `process snapshot, ${procs} processes`,
          peer: { tool: 'ps-list', unit: 'ms', stats: toStats(result.timings.psList) },
          ratio: pmOver(result.timings.psList),
          target: { text: '≥ 2x faster than ps-list', met: result.targets.twiceAsFastAsPsList },
          notes: [
            `first (cold) sample of a new collector: ${result.coldSampleMs.toFixed(1)} ms; it also reads status and cmdline of every process`,
            `event loop at ${loop.procs} processes: longest turn ${loop.maxBlockMs.toFixed(1)} ms steady, ${loop.coldMaxBlockMs.toFixed(1)} ms cold (target ≤ ${BLOCK_TARGET_MS} ms: ${Math.max(loop.maxBlockMs, loop.coldMaxBlockMs) <= BLOCK_TARGET_MS ? 'met' : 'missed'}); the same probe around 0.5 ms busy-waits alone: ${loop.baselineMaxGapMs.toFixed(1)} ms (machine jitter)`
          ]
        },
        {
          ...common,
          key: `snapshot-ps@${procs}`,
          title: `process snapshot, ${procs} processes`,
          peer: { tool: 'ps -eo pid,ppid,user,comm,args,stat,pcpu,rss,lstart', unit: 'ms', stats: toStats(result.timings.ps) },
          ratio: pmOver(result.timings.ps),
          target: { text: 'within 1.5x of procps ps', met: result.targets.withinOneAndAHalfOfPs }
        },
        {
          ...common,
          key: `snapshot-top@${procs}`,
          title: `process snapshot, ${procs} processes`,
          peer: { tool: 'top -b -n1', unit: 'ms', stats: toStats(result.timings.top) },
          ratio: pmOver(result.timings.top)
        }
      )
    }
  } finally {
    await net.destroy()
  }
  return rows
}
