/**
 * The hosts pane: one line per host with its status, figures and CPU sparkline.
 */
import type { PeerEntry, PeerStatus } from '../../../protocols/types.js'
import { formatAgo, formatBytes, formatTags, formatUptime } from '../../format.js'
import { SPARK_WIDTH, TRAIL_RANGE_LABELS, TRAIL_RANGE_MS, type CpuPoint, type State, type TrailRange } from '../model.js'
import { bar, cpuColor, sparkline } from './charts.js'
import type { Glyphs } from './glyphs.js'
import { esc, fitColumns, headerLine, highlight, rowLine, sanitize, type Column } from './text.js'

const STATUS_COLOR: Readonly<Record<PeerStatus, string>> = { online: 'green', stale: 'yellow', offline: 'red' }

/**
 * What the hosts pane shows for a host (pure): its status, except that a host whose
 * summaries still arrive (relayed by others) but which this node has no connection to
 * is not shown as plainly online: every action on it would fail.
 */
export function hostState (h: PeerEntry): { label: string, glyph: PeerStatus, color: string } {
  if (h.status !== 'online' || h.self) return { label: h.status, glyph: h.status, color: STATUS_COLOR[h.status] }
  if (h.reach === 'unreachable') return { label: 'no route', glyph: 'stale', color: 'yellow' }
  if (h.reach === 'relayed') return { label: 'relayed', glyph: 'online', color: 'cyan' }
  return { label: 'online', glyph: 'online', color: STATUS_COLOR.online }
}

/** Online and reachable from this node (the header's "online" count). */
export function isReachableOnline (h: PeerEntry): boolean {
  return h.status === 'online' && (h.self || h.reach !== 'unreachable')
}

export interface HostRowData { host: PeerEntry, trail: readonly CpuPoint[], now: number, g: Glyphs }

/**
 * The hosts pane's columns; `range` is what the sparkline covers. At 80 columns NAME and MEM
 * shrink first, and load and the sparkline are kept over SEEN, the bar, uptime and tags
 * (issue 18: at 80x24 the pane showed neither).
 */
export function hostColumns (range: TrailRange = 'live'): Array<Column<HostRowData>> {
  const windowMs = TRAIL_RANGE_MS[range]
  return [
    { header: 'STATUS', width: 10, priority: 100, cell: r => { const st = hostState(r.host); return `${r.g.status[st.glyph]} ${st.label}` }, style: r => `${hostState(r.host).color}-fg` },
    { header: 'NAME', width: 18, minWidth: 10, priority: 99, cell: r => sanitize(r.host.name) + (r.host.self ? ' *' : ''), style: r => r.host.self ? 'bold' : undefined },
    { header: 'CPU%', width: 6, align: 'right', priority: 98, cell: r => r.host.host.cpuPercent.toFixed(1), style: r => `${cpuColor(r.host.host.cpuPercent)}-fg` },
    { header: '', width: 10, priority: 60, cell: r => bar(r.host.host.cpuPercent, 10, r.g), style: r => `${cpuColor(r.host.host.cpuPercent)}-fg` },
    { header: 'MEM', width: 13, minWidth: 10, align: 'right', priority: 90, cell: r => `${formatBytes(r.host.host.memUsed)}/${formatBytes(r.host.host.memTotal)}` },
    { header: 'PROCS', width: 6, align: 'right', priority: 80, cell: r => String(r.host.procCount) },
    { header: 'LOAD', width: 14, priority: 76, cell: r => r.host.host.load.map(formatLoad).join(' ') },
    { header: 'SEEN', width: 8, priority: 75, cell: r => r.host.self ? 'now' : formatAgo(r.host.lastSeen, r.now) },
    { header: `CPU ${TRAIL_RANGE_LABELS[range]}`, width: SPARK_WIDTH, priority: 77, cell: r => sparkline(r.trail, r.now, SPARK_WIDTH, r.g, windowMs), style: () => range === 'live' ? 'cyan-fg' : 'magenta-fg' },
    { header: 'UP', width: 7, priority: 40, cell: r => formatUptime(r.host.host.uptime) },
    { header: 'TAGS', width: 8, priority: 50, flex: true, cell: r => sanitize(formatTags(r.host.tags)) }
  ]
}

/** The hosts pane: column header, then the visible rows. */
export function hostLines (s: State, width: number, rows: number, g: Glyphs, focused: boolean): string[] {
  const cols = fitColumns(hostColumns(s.trailRange), width)
  // a range not fetched yet draws blank cells rather than the live trail under its label
  const ranged = s.trailRange !== 'live' ? (s.rangeTrail?.range === s.trailRange ? s.rangeTrail.hosts : {}) : undefined
  const lines = [`{bold}${esc(headerLine(cols))}{/bold}`]
  if (s.hosts.length === 0) {
    lines.push(s.connection === 'up' ? 'no hosts yet: waiting for the mesh view' : esc(s.connectionNote !== '' ? s.connectionNote : 'connecting to the node…'))
    return lines
  }
  const end = Math.min(s.hosts.length, s.hostScroll + rows)
  for (let i = s.hostScroll; i < end; i++) {
    const host = s.hosts[i]
    const trail = ranged !== undefined ? ranged[host.peerId] ?? [] : s.cpuTrail[host.peerId] ?? []
    let line = rowLine(cols, { host, trail, now: s.now, g }, g)
    if (host.status === 'offline') line = `{grey-fg}${line}{/grey-fg}`
    lines.push(i === s.hostCursor ? highlight(line, focused) : line)
  }
  return lines
}

/** A load average in at most 4 characters, so three always fit the column (busy hosts run at 10+). */
export function formatLoad (load: number): string {
  if (load < 10) return load.toFixed(2)
  if (load < 100) return load.toFixed(1)
  return String(Math.round(load))
}
