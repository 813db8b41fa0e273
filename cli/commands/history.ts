/**
 * `procmesh history TARGET`: what a host (or every host) did over a time range, from the
 * durable history each node keeps: host CPU and memory as a small chart, the top processes
 * over the range or at a time, and process starts and exits.
 */
import type { HistoryEntry } from '../../protocols/control.js'
import {
  HISTORY_DEFAULT_POINTS, HISTORY_DEFAULT_TOP, HISTORY_MAX_TOP, MAX_FILTER_BYTES,
  type HistoryEvent, type HistoryPoint, type HistoryProcess, type HistoryResult
} from '../../protocols/messages.js'
import { UsageError, parseDuration, parsePositiveInt } from '../args.js'
import { bool, str, type CommandSpec } from '../command.js'
import { withClient } from '../control-client.js'
import { failsCall } from './fan-out.js'
import { formatBytes, table } from '../format.js'

const DEFAULT_SINCE_MS = 60 * 60 * 1000
/** `--at` without a range looks this far either side of it */
const AT_WINDOW_MS = 30 * 60 * 1000
const CHART_WIDTH = 60
const SPARKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']

/**
 * A time on the command line: `03:10` or `03:10:30` (today, local time; yesterday when that
 * is still to come), an ISO date or date-time (`2026-11-29`, `2026-11-29T03:10Z`), a
 * relative `-2h` / `-90m` / `-7d`, `now`, or ms since the epoch. `future`: a time of day
 * still to come stays today (the end of a range), rather than meaning yesterday.
 */
export function parseTime (text: string, now: number, flag: string, opts: { future?: boolean } = {}): number {
  const t = text.trim()
  if (t === 'now') return now
  const rel = /^-(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(t)
  if (rel !== null) return now - parseDuration(`${rel[1]}${rel[2]}`, flag)
  const clock = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t)
  if (clock !== null) {
    const [h, m, s] = [Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0)]
    if (h > 23 || m > 59 || s > 59) throw new UsageError(`${flag}: not a time of day: ${JSON.stringify(text)}`)
    const d = new Date(now)
    d.setHours(h, m, s, 0)
    let at = d.getTime()
    if (at > now && opts.future !== true) { d.setDate(d.getDate() - 1); at = d.getTime() }
    return at
  }
  if (/^\d{12,}$/.test(t)) return Number(t)
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) {
    const at = Date.parse(t.replace(' ', 'T'))
    if (Number.isFinite(at)) return at
  }
  throw new UsageError(`${flag}: expected a time like 03:10, 2026-11-29T03:10Z or -2h, got ${JSON.stringify(text)}`)
}

export interface HistoryRangeFlags { since?: string, from?: string, to?: string, at?: string }

/** Resolve --since / --from / --to / --at into a range (pure; `now` from the caller). */
export function resolveRange (flags: HistoryRangeFlags, now: number): { from: number, to: number, at?: number } {
  if (flags.since !== undefined && (flags.from !== undefined || flags.to !== undefined)) throw new UsageError('--since: give either --since or --from/--to, not both')
  const at = flags.at !== undefined ? parseTime(flags.at, now, '--at') : undefined
  let from: number
  let to: number
  if (flags.since !== undefined) {
    const d = parseDuration(flags.since.replace(/^-/, ''), '--since')
    if (d <= 0) throw new UsageError('--since: must be longer than 0')
    from = now - d
    to = now
  } else if (flags.from !== undefined || flags.to !== undefined) {
    to = flags.to !== undefined ? parseTime(flags.to, now, '--to', { future: true }) : now
    from = flags.from !== undefined ? parseTime(flags.from, now, '--from') : to - DEFAULT_SINCE_MS
  } else if (at !== undefined) {
    from = at - AT_WINDOW_MS
    to = Math.min(now, at + AT_WINDOW_MS)
    if (to <= from) to = at + AT_WINDOW_MS
  } else {
    from = now - DEFAULT_SINCE_MS
    to = now
  }
  if (from >= to) throw new UsageError(`--from: ${new Date(from).toISOString()} is not before --to ${new Date(to).toISOString()}`)
  if (at !== undefined && (at < from || at > to)) throw new UsageError(`--at: ${new Date(at).toISOString()} is outside the range ${new Date(from).toISOString()} .. ${new Date(to).toISOString()}`)
  return { from, to, ...(at !== undefined ? { at } : {}) }
}

/** One line of block characters: values resampled to `width` columns, scaled to `max`. */
export function sparkline (values: number[], width: number, max: number): string {
  if (values.length === 0) return ''
  const cols = Math.min(width, values.length)
  let out = ''
  for (let c = 0; c < cols; c++) {
    const a = Math.floor(c * values.length / cols)
    const b = Math.max(a + 1, Math.floor((c + 1) * values.length / cols))
    const slice = values.slice(a, b)
    const v = slice.reduce((s, x) => s + x, 0) / slice.length
    out += SPARKS[Math.max(0, Math.min(SPARKS.length - 1, Math.round(v / Math.max(max, 1e-9) * (SPARKS.length - 1))))]
  }
  return out
}

function hhmm (ms: number): string {
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

function span (ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  if (s < 172_800) return `${(s / 3600).toFixed(1).replace(/\.0$/, '')}h`
  return `${(s / 86400).toFixed(1).replace(/\.0$/, '')}d`
}

/** Gaps in the series (no samples for more than three points' width): the node was down. */
function gaps (points: HistoryPoint[], bucketMs: number): string[] {
  const out: string[] = []
  for (let i = 1; i < points.length; i++) {
    const d = points[i].at - points[i - 1].at
    if (d > 3 * bucketMs && d > 10_000) out.push(`${hhmm(points[i - 1].at)} .. ${hhmm(points[i].at)} (${span(d)})`)
  }
  return out
}

function processTable (procs: HistoryProcess[], overRange: boolean, n: number): string {
  const rows = [...procs].sort((a, b) => b.cpuPercent - a.cpuPercent || b.rss - a.rss).slice(0, n * 2).map(p => [
    String(p.pid), hhmm(p.startTime), p.user, p.name, p.cpuPercent.toFixed(1), ...(overRange ? [(p.cpuMax ?? 0).toFixed(1)] : []), formatBytes(p.rss)
  ])
  const headers = ['PID', 'STARTED', 'USER', 'NAME', overRange ? 'CPU% MEAN' : 'CPU%', ...(overRange ? ['CPU% MAX'] : []), overRange ? 'RSS MAX' : 'RSS']
  return table(headers, rows, ['right', 'left', 'left', 'left', 'right', 'right', 'right'])
}

/** The human summary of one host. */
export function formatHostHistory (name: string, h: HistoryResult, n: number): string {
  const lines: string[] = []
  const r = h.range
  if (r === undefined) return `${name}: no range in the answer`
  lines.push(`${name}  ${hhmm(r.from)} .. ${hhmm(r.to)}  (${span(r.to - r.from)}, ${r.samples} samples, a point per ${span(r.bucketMs)}; kept since ${r.oldest === null ? 'nothing yet' : hhmm(r.oldest)})`)
  if (h.points.length === 0) {
    lines.push('  no samples in this range')
  } else {
    const cpu = h.points.map(p => p.cpuPercent)
    const mem = h.points.map(p => p.memUsed)
    const cpuMax = Math.max(...h.points.map(p => p.cpuMax ?? p.cpuPercent))
    const cpuMean = cpu.reduce((s, x) => s + x, 0) / cpu.length
    const memMax = Math.max(...mem)
    lines.push(`  CPU ${sparkline(cpu, CHART_WIDTH, Math.max(100, cpuMax))}  mean ${cpuMean.toFixed(1)}%  max ${cpuMax.toFixed(1)}%`)
    lines.push(`  MEM ${sparkline(mem, CHART_WIDTH, h.memTotal > 0 ? h.memTotal : memMax)}  now ${formatBytes(mem[mem.length - 1])}  max ${formatBytes(memMax)} of ${formatBytes(h.memTotal)}`)
    for (const g of gaps(h.points, r.bucketMs)) lines.push(`  no samples ${g} (node down or not yet recording)`)
  }
  if (h.atSample !== undefined) {
    lines.push('', `  top processes at ${hhmm(h.atSample.at)}:`, indent(processTable(h.atSample.processes, false, n)))
  } else if (h.top !== undefined && h.top.length > 0) {
    lines.push('', '  top processes over the range:', indent(processTable(h.top, true, n)))
  }
  return lines.join('\n')
}

function indent (text: string): string {
  return text.split('\n').map(l => `  ${l}`).join('\n')
}

/** Events of every host in time order, one table. */
export function formatEvents (entries: Array<{ name: string, events: HistoryEvent[] }>, withHost: boolean): string {
  const all = entries.flatMap(e => e.events.map(ev => ({ host: e.name, ev }))).sort((a, b) => a.ev.at - b.ev.at || a.host.localeCompare(b.host))
  if (all.length === 0) return 'no process starts or exits in this range'
  const rows = all.map(({ host, ev }) => [
    ...(withHost ? [host] : []),
    hhmm(ev.at),
    ev.kind,
    String(ev.pid),
    String(ev.ppid),
    ev.user,
    ev.name,
    ev.lifetimeMs !== undefined ? span(ev.lifetimeMs) : '',
    ev.exitCode !== undefined || ev.signal !== undefined ? (ev.signal ?? `code ${String(ev.exitCode)}`) : (ev.managedId !== undefined ? `managed ${ev.managedId}` : ''),
    ev.cmd.length > 80 ? `${ev.cmd.slice(0, 79)}…` : ev.cmd
  ])
  return table([...(withHost ? ['HOST'] : []), 'TIME', 'EVENT', 'PID', 'PPID', 'USER', 'NAME', 'LIVED', 'EXIT', 'CMD'], rows)
}

export const historyCommand: CommandSpec = {
  usage: 'procmesh history TARGET [--since 1h | --from T --to T] [--at T] [--top N] [--events] [--filter TEXT] [--points N] [--home DIR] [--json]\n' +
    '  what a host (or all) did over a time range: CPU and memory, the top processes (at --at or over the range), starts and exits\n' +
    '  T: 03:10 (today, local), 2026-11-29T03:10Z, -2h, now',
  options: {
    since: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    at: { type: 'string' },
    top: { type: 'string' },
    events: { type: 'boolean' },
    filter: { type: 'string' },
    points: { type: 'string' }
  },
  positionals: [0, 1],
  async run (ctx, values, positionals) {
    const now = Date.now()
    const range = resolveRange({ since: str(values, 'since'), from: str(values, 'from'), to: str(values, 'to'), at: str(values, 'at') }, now)
    const topText = str(values, 'top')
    const top = topText !== undefined ? parsePositiveInt(topText, '--top') : HISTORY_DEFAULT_TOP
    if (top > HISTORY_MAX_TOP) throw new UsageError(`--top: at most ${HISTORY_MAX_TOP}`)
    const pointsText = str(values, 'points')
    const points = pointsText !== undefined ? parsePositiveInt(pointsText, '--points') : HISTORY_DEFAULT_POINTS
    const filter = str(values, 'filter')
    if (filter !== undefined && Buffer.byteLength(filter) > MAX_FILTER_BYTES) throw new UsageError(`--filter: at most ${MAX_FILTER_BYTES} bytes`)
    const events = bool(values, 'events')
    const target = positionals[0] ?? 'self'
    const entries: HistoryEntry[] = await withClient(ctx.home, async c => await c.history({
      target, ...range, points, top, ...(events ? { events } : {}), ...(filter !== undefined ? { filter } : {})
    }))
    if (ctx.json) {
      ctx.out(JSON.stringify(entries))
    } else {
      const ok = entries.flatMap(e => 'history' in e ? [{ name: e.name, history: e.history }] : [])
      const blocks = ok.map(e => formatHostHistory(e.name, e.history, top))
      if (events) {
        blocks.push(formatEvents(ok.map(e => ({ name: e.name, events: e.history.events ?? [] })), entries.length > 1))
        const cut = ok.filter(e => e.history.eventsTruncated === true).map(e => e.name)
        if (cut.length > 0) blocks.push(`(only the latest events of ${cut.join(', ')}: narrow the range or add --filter)`)
      }
      if (blocks.length > 0) ctx.out(blocks.join('\n\n'))
    }
    const failed = entries.flatMap(e => 'error' in e ? [`${e.name}: ${e.error.message}`] : [])
    if (failed.length > 0) {
      ctx.err(`procmesh history: ${failed.join('; ')}`)
      // a host that was asked and did not answer fails the call, as does no answer at all (offline hosts of a group are only listed)
      if (failsCall(entries)) return 1
    }
    if (entries.length === 0) {
      ctx.err(`procmesh history: no node matches ${JSON.stringify(target)}`)
      return 1
    }
    return 0
  }
}
