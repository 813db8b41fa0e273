/**
 * The dashboard's pure helpers: what the browser page (cli/web/page/) computes that
 * needs no DOM, so node tests check it directly. Like the page it imports only
 * Node-free modules; the process rules themselves (filter, sort, tree) are
 * protocols/processes.ts, the same code as the CLI's and the TUI's.
 */
import type { ManagedProcess } from '../../protocols/managed.js'
import { buildTree, type ProcessNode } from '../../protocols/processes.js'
import type { ProcessInfo } from '../../protocols/types.js'
import { formatLastExit } from '../format.js'
import type { AlertLevel, HostAlert } from '../../protocols/types.js'
import type { HostJson, ManagedChange } from './api-types.js'

/** A process across refreshes: a pid with the start time it had (pids are reused). */
export function processKey (p: Pick<ProcessInfo, 'pid' | 'startTime'>): string {
  return `${p.pid}:${p.startTime}`
}

/**
 * The pids to fold in this list, from the folded process keys the page keeps: a
 * folded parent stays folded across refreshes, and a reused pid does not inherit it.
 */
export function foldedPids (processes: readonly ProcessInfo[], foldedKeys: ReadonlySet<string>): Set<number> {
  const out = new Set<number>()
  for (const p of processes) if (foldedKeys.has(processKey(p))) out.add(p.pid)
  return out
}

/** Keys of every process that has children in the list's tree (to fold everything). */
export function parentKeys (processes: readonly ProcessInfo[]): string[] {
  const keys: string[] = []
  const stack: ProcessNode[] = buildTree(processes)
  while (stack.length > 0) {
    const n = stack.pop() as ProcessNode
    if (n.children.length > 0) keys.push(processKey(n.process))
    stack.push(...n.children)
  }
  return keys
}

/** The tree node of a pid, if it is in the list. */
export function findNode (processes: readonly ProcessInfo[], pid: number): ProcessNode | undefined {
  const stack: ProcessNode[] = buildTree(processes)
  while (stack.length > 0) {
    const n = stack.pop() as ProcessNode
    if (n.process.pid === pid) return n
    stack.push(...n.children)
  }
  return undefined
}

/** The chain of ancestors of a process (nearest first), by ppid within the list. */
export function ancestorKeys (processes: readonly ProcessInfo[], pid: number): string[] {
  const byPid = new Map<number, ProcessInfo>()
  for (const p of processes) if (!byPid.has(p.pid)) byPid.set(p.pid, p)
  const keys: string[] = []
  const seen = new Set([pid])
  let cur = byPid.get(pid)
  while (cur !== undefined && cur.ppid !== cur.pid && !seen.has(cur.ppid)) {
    const parent = byPid.get(cur.ppid)
    if (parent === undefined) break
    seen.add(cur.ppid)
    cur = parent
    keys.push(processKey(cur))
  }
  return keys
}

/** KEY=VALUE per line (blank lines skipped) into an object; throws naming the bad line. */
export function parseEnvLines (text: string): Record<string, string> | undefined {
  const env: Record<string, string> = {}
  let count = 0
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return
    const eq = line.indexOf('=')
    if (eq <= 0) throw new Error(`env line ${i + 1}: expected KEY=VALUE`)
    env[line.slice(0, eq).trim()] = line.slice(eq + 1)
    count++
  })
  return count > 0 ? env : undefined
}

export interface SseMessage { event: string, data: string, id: string }

/** Incremental text/event-stream parser: push() text as it arrives; onEvent per complete event. */
export function sseParser (onEvent: (msg: SseMessage) => void): { push: (text: string) => void } {
  let buffer = ''
  let event = ''
  let data: string[] = []
  let id = ''
  const line = (l: string): void => {
    if (l === '') {
      if (data.length > 0) onEvent({ event: event === '' ? 'message' : event, data: data.join('\n'), id })
      event = ''
      data = []
      return
    }
    if (l.startsWith(':')) return
    const colon = l.indexOf(':')
    const field = colon < 0 ? l : l.slice(0, colon)
    let value = colon < 0 ? '' : l.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
    else if (field === 'id') id = value
  }
  return {
    push (text: string): void {
      buffer += text
      let m: RegExpExecArray | null
      while ((m = /\r\n|\r|\n/.exec(buffer)) !== null) {
        // a lone CR at the end may be the first half of CRLF: wait for more
        if (m[0] === '\r' && m.index === buffer.length - 1) break
        line(buffer.slice(0, m.index))
        buffer = buffer.slice(m.index + m[0].length)
      }
    }
  }
}

/** SVG polyline points for values evenly spread on a width x height box; max is the top of the scale. */
export function sparkPoints (values: readonly number[], width: number, height: number, max: number): string {
  if (values.length === 0) return ''
  const top = max > 0 ? max : 1
  const step = values.length > 1 ? width / (values.length - 1) : 0
  return values.map((v, i) => {
    const y = height - Math.max(0, Math.min(1, v / top)) * height
    return `${(values.length > 1 ? i * step : width).toFixed(1)},${y.toFixed(1)}`
  }).join(' ')
}

/** Status as shown: an online host says how this node reaches it when not directly. */
export function hostStatusText (p: Pick<HostJson, 'status' | 'self' | 'reach'>): string {
  if (p.status !== 'online' || p.self) return p.status
  if (p.reach === 'unreachable') return 'online · unreachable from this node'
  if (p.reach === 'relayed') return 'online · relayed'
  return p.status
}

/** The status a host card is styled by: online but unreachable from here is not plainly online. */
export function hostStatusClass (p: Pick<HostJson, 'status' | 'self' | 'reach'>): string {
  return p.status === 'online' && !p.self && p.reach === 'unreachable' ? 'unreachable' : p.status
}

/** Hosts in display order: this node first, then by name (peer id breaking ties). */
export function compareHosts (a: Pick<HostJson, 'self' | 'name' | 'peerId'>, b: Pick<HostJson, 'self' | 'name' | 'peerId'>): number {
  if (a.self !== b.self) return a.self ? -1 : 1
  if (a.name !== b.name) return a.name < b.name ? -1 : 1
  return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0
}

/** Memory in use as a percentage of the total (0 when the total is unknown). */
export function memPercent (host: Pick<HostJson['host'], 'memUsed' | 'memTotal'> | undefined): number {
  return host !== undefined && host.memTotal > 0 ? 100 * host.memUsed / host.memTotal : 0
}

// ---- managed processes ----

/** How a managed process last ended, in words: `code 1`, `SIGKILL`, `exit status unknown`. */
export function exitText (m: Pick<ManagedProcess, 'lastExit'>): string {
  const shown = formatLastExit(m)
  if (shown === '-') return 'never exited'
  if (shown.startsWith('?')) return 'exit status unknown'
  return shown.startsWith('SIG') ? shown : `code ${shown}`
}

/** The notice the page shows when the event stream says a managed process exited or entered crash-loop. */
export function managedNotice (ev: { change: ManagedChange, host: string, process: ManagedProcess }): { text: string, kind: 'warn' | 'error' } {
  const m = ev.process
  const label = `${m.name ?? m.managedId} on ${ev.host}`
  const restarts = `${m.restarts} restart${m.restarts === 1 ? '' : 's'}`
  if (ev.change === 'crash-loop') return { text: `${label} is in crash-loop after ${restarts} (last exit: ${exitText(m)}); it stays down until restarted`, kind: 'error' }
  if (ev.change === 'restarted') return { text: `${label} exited (${exitText(m)}) and was restarted by its policy (${restarts})`, kind: 'warn' }
  const after = m.state === 'restarting' ? '; restarting' : m.state === 'stopped' ? '; stopped through procmesh' : ''
  return { text: `${label} exited (${exitText(m)})${after}`, kind: m.state === 'stopped' ? 'warn' : 'error' }
}

// ---- the history chart ----

export type RangeChoice = '1h' | '24h' | '7d'
export const RANGE_CHOICES: Readonly<Record<RangeChoice, number>> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 }

export function isRangeChoice (value: unknown): value is RangeChoice {
  return value === '1h' || value === '24h' || value === '7d'
}

/**
 * An SVG path through (time, value) points on a width x height box spanning from..to
 * and 0..max; the line breaks where two points are further apart than `gapMs` (the
 * node was down), so a gap is not drawn as a slope.
 */
export function chartPath (points: ReadonlyArray<{ at: number, value: number }>, from: number, to: number, width: number, height: number, max: number, gapMs: number): string {
  const span = to > from ? to - from : 1
  const top = max > 0 ? max : 1
  let d = ''
  let prev: number | undefined
  for (const p of points) {
    const x = (p.at - from) / span * width
    const y = height - Math.max(0, Math.min(1, p.value / top)) * height
    d += `${prev === undefined || p.at - prev > gapMs ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)} `
    prev = p.at
  }
  return d.trimEnd()
}

/** Points further apart than this are a gap: three points' width, and never less than 10 s (as `procmesh history`). */
export function gapThreshold (bucketMs: number): number {
  return Math.max(3 * bucketMs, 10_000)
}

/** The index of the point nearest a time (-1 for no points). */
export function nearestPoint (points: ReadonlyArray<{ at: number }>, at: number): number {
  let best = -1
  let bestDistance = Infinity
  points.forEach((p, i) => {
    const d = Math.abs(p.at - at)
    if (d < bestDistance) { best = i; bestDistance = d }
  })
  return best
}

/** A datetime-local input's value (local time, `2026-11-29T03:10`) as ms since the epoch; undefined when empty or invalid. */
export function parseLocalDateTime (value: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value)
  if (m === null) return undefined
  const at = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)).getTime()
  return Number.isFinite(at) ? at : undefined
}

/** ms since the epoch as a datetime-local input's value, to the minute. */
export function toLocalDateTime (ms: number): string {
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}

/** A time on the chart's axis: HH:MM within a day's range, else Mon DD HH:MM. */
export function formatChartTime (ms: number, spanMs: number): string {
  const d = new Date(ms)
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
  if (spanMs <= 86_400_000) return hm
  return `${d.toLocaleDateString('en-US', { month: 'short', day: '2-digit' })} ${hm}`
}

/** A column of the process table: its class suffix (`col-KEY`) and the width it is given. */
export interface TableColumn { key: string, width: number }

/**
 * The columns to hide so that the table fits `width` px without a sideways scrollbar:
 * the fixed columns keep their width, the main (command) column takes the rest and
 * needs at least `mainMin`; columns are dropped in `dropOrder` (the least useful
 * first) until it fits, or nothing more may be dropped.
 */
export function columnsToHide (width: number, columns: readonly TableColumn[], dropOrder: readonly string[], mainMin: number): Set<string> {
  const hidden = new Set<string>()
  let used = columns.reduce((sum, c) => sum + c.width, 0)
  for (const key of dropOrder) {
    if (width - used >= mainMin) break
    const c = columns.find(col => col.key === key)
    if (c === undefined) continue
    hidden.add(key)
    used -= c.width
  }
  return hidden
}

const LEVEL_RANK: Readonly<Record<AlertLevel, number>> = { careful: 1, warning: 2, critical: 3 }

/**
 * The level the node gave one of its figures (the worst, for disk without a mount), or
 * undefined: the page shows the node's own alerts and never judges figures itself.
 */
export function alertLevel (alerts: readonly HostAlert[] | undefined, metric: HostAlert['metric'], mount?: string): AlertLevel | undefined {
  let worst: AlertLevel | undefined
  for (const a of alerts ?? []) {
    if (a.metric !== metric || (mount !== undefined && a.mount !== mount)) continue
    if (worst === undefined || LEVEL_RANK[a.level] > LEVEL_RANK[worst]) worst = a.level
  }
  return worst
}

/** The worst level of all the host's alerts. */
export function worstAlert (alerts: readonly HostAlert[] | undefined): AlertLevel | undefined {
  let worst: AlertLevel | undefined
  for (const a of alerts ?? []) if (worst === undefined || LEVEL_RANK[a.level] > LEVEL_RANK[worst]) worst = a.level
  return worst
}

/** One alert as the page lists it: `mem 93.1% critical`, `disk /var 91% warning`, `load 1.2/core careful`. */
export function alertText (a: HostAlert): string {
  const value = a.metric === 'load' ? `${a.value}/core` : `${a.value}%`
  return `${a.metric}${a.mount !== undefined ? ` ${a.mount}` : ''} ${value} ${a.level}`
}

/** The fullest filesystem (df's Use%: used over used + avail), or undefined. */
export function fullestDisk<D extends { used: number, avail: number }> (disks: readonly D[] | undefined): { disk: D, percent: number } | undefined {
  let best: { disk: D, percent: number } | undefined
  for (const d of disks ?? []) {
    const whole = d.used + d.avail
    const percent = whole > 0 ? (d.used / whole) * 100 : 0
    if (best === undefined || percent > best.percent) best = { disk: d, percent }
  }
  return best
}
