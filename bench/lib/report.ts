/** The results of a bench run: one shape for results.json, rendered once into results.md. */
import type { Stats } from './stats.js'

/** The profile row's figures (bench/rows/profile.ts measures them). */
export interface ProfileShare { name: string, percent: number }

export interface ProfileResult {
  hosts: number
  windowSeconds: number
  /** CPU% of one core of the profiled node over the window (from /proc), profiler overhead included */
  cpuPercent: number
  /** median CPU% of the other (unprofiled) nodes over the same window */
  othersCpuPercent: number
  /** share of the non-idle samples, by package / module / pseudo-frame */
  byCategory: ProfileShare[]
  /** share of the non-idle samples, by function (self time) */
  byFunction: ProfileShare[]
  /** share of the non-idle samples whose stack passes through each package / module (inclusive) */
  inclusive: ProfileShare[]
}

export type Unit = 'ms' | '% of a core' | 'MB' | 'B/s' | 'KB/s'

export interface Side {
  /** what was measured, e.g. "procmesh ps all (CLI)" or "serf query" */
  tool: string
  unit: Unit
  stats?: Stats
  /** runs that failed or timed out (not in the stats) */
  failures?: number
  /** why there are no stats, when there are none */
  unavailable?: string
}

export interface Target {
  text: string
  /** undefined when the run could not decide (e.g. no data) */
  met?: boolean
}

export interface BenchRow {
  /** the row of issue 6 (1-7); 8 is the in-node control round trip of issue 3 */
  row: number
  /** stable key, e.g. "join@5" */
  key: string
  title: string
  hosts?: number
  procmesh: Side
  peer?: Side
  /** median procmesh / median peer (below 1: procmesh is faster or lighter) */
  ratio?: number
  target?: Target
  notes?: string[]
}

export interface Machine {
  cpuModel: string
  cores: number
  memoryGiB: number
  kernel: string
  os: string
  /** load average when the run started: other work on a shared machine shows up here */
  loadAtStart: [number, number, number]
}

export interface BenchResults {
  startedAt: string
  finishedAt: string
  durationSeconds: number
  options: { quick: boolean, only: string[], sizes: number[] }
  machine: Machine
  versions: Record<string, string>
  rows: BenchRow[]
  /** analysis and caveats that apply to the whole run */
  notes: string[]
  /** rows or tools that could not run here, with the reason */
  skipped: string[]
  /** 1-minute load average as each step started */
  load: Array<{ step: string, load1: number }>
  /** where an idle node's CPU goes (row 9) */
  profile?: ProfileResult
}

function fmtNumber (v: number): string {
  if (v >= 100) return v.toFixed(0)
  if (v >= 10) return v.toFixed(1)
  return v.toFixed(2)
}

export function fmtStats (side: Side | undefined): string {
  if (side === undefined) return '—'
  if (side.stats === undefined) return side.unavailable !== undefined ? `n/a (${side.unavailable})` : 'n/a'
  const s = side.stats
  const body = s.runs > 1 ? `${fmtNumber(s.median)} (p99 ${fmtNumber(s.p99)})` : fmtNumber(s.median)
  const fails = side.failures !== undefined && side.failures > 0 ? `, ${side.failures} failed` : ''
  return `${body} ${side.unit}${s.runs > 1 ? ` ×${s.runs}` : ''}${fails}`
}

export function renderMarkdown (r: BenchResults): string {
  const m = r.machine
  const out: string[] = []
  out.push('# procmesh benchmarks', '')
  out.push(`Run ${r.startedAt} (${Math.round(r.durationSeconds)} s${r.options.quick ? ', --quick' : ''}${r.options.only.length > 0 ? `, --only ${r.options.only.join(',')}` : ''}, sizes ${r.options.sizes.join(',')}).`)
  out.push(`Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB.toFixed(0)} GiB, Linux ${m.kernel} (${m.os}); load at start ${m.loadAtStart.map(l => l.toFixed(2)).join(' ')}.`)
  out.push(`Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`, '')
  out.push('Medians with the nearest-rank p99 (with fewer than 100 runs, the slowest run) and the number of runs; ratio = procmesh median / peer median (below 1: procmesh faster or lighter).', '')
  out.push('| # | benchmark | hosts | procmesh | peer | peer result | procmesh/peer | target |')
  out.push('|---|---|---:|---|---|---|---:|---|')
  for (const row of r.rows) {
    const target = row.target === undefined ? '' : `${row.target.text}: ${row.target.met === undefined ? 'n/a' : row.target.met ? '**met**' : '**missed**'}`
    out.push(`| ${row.row} | ${row.title} | ${row.hosts ?? ''} | ${row.procmesh.tool}: ${fmtStats(row.procmesh)} | ${row.peer?.tool ?? ''} | ${row.peer === undefined ? '' : fmtStats(row.peer)} | ${row.ratio === undefined ? '' : row.ratio.toFixed(2)} | ${target} |`)
  }
  const rowNotes = r.rows.filter(row => row.notes !== undefined && row.notes.length > 0)
  if (rowNotes.length > 0) {
    out.push('', '## Notes per row', '')
    for (const row of rowNotes) for (const note of row.notes ?? []) out.push(`- ${row.key}: ${note}`)
  }
  if (r.profile !== undefined) {
    const p = r.profile
    const list = (shares: Array<{ name: string, percent: number }>, n: number): string => shares.slice(0, n).map(x => `${x.name} ${x.percent.toFixed(0)}%`).join(', ')
    out.push('', `## Where an idle node's CPU goes (${p.hosts} hosts)`, '')
    out.push(`One node of a ${p.hosts}-host mesh (run from source, so packages keep their names) under \`node --cpu-prof\` for ${p.windowSeconds.toFixed(0)} s of idle: ${p.cpuPercent.toFixed(2)}% of a core with the profiler's overhead (the unprofiled nodes: ${p.othersCpuPercent.toFixed(2)}% median). Shares are of its busy (non-idle) samples.`, '')
    out.push(`- self time by package/module: ${list(p.byCategory, 10)}`)
    out.push(`- inclusive (stack passes through): ${list(p.inclusive, 14)}`)
    out.push(`- hottest functions (self): ${list(p.byFunction, 8)}`)
  }
  if (r.load.length > 0) {
    out.push('', `Load average (1 min) as each step started: ${r.load.map(l => `${l.step} ${l.load1.toFixed(1)}`).join('; ')}.`)
  }
  if (r.notes.length > 0) {
    out.push('', '## Analysis', '')
    for (const note of r.notes) out.push(`- ${note}`)
  }
  if (r.skipped.length > 0) {
    out.push('', '## Not measured', '')
    for (const s of r.skipped) out.push(`- ${s}`)
  }
  return out.join('\n') + '\n'
}
