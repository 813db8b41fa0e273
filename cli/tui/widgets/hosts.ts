/**
 * The hosts pane: one line per host with its status, figures and CPU sparkline.
 */
import type { DiskUsage, PeerEntry, PeerStatus } from '../../../protocols/types.js'
import { formatAgo, formatBytes, formatTags, formatUptime } from '../../format.js'
import { SPARK_WIDTH, TRAIL_RANGE_LABELS, TRAIL_RANGE_MS, type CpuPoint, type State, type TrailRange } from '../model.js'
import { ALERT_STYLE, hostFigureStyle, hostMarkLevel } from './alerts.js'
import { bar, sparkline } from './charts.js'
import type { Glyphs } from './glyphs.js'
import { esc, fitColumns, headerLine, highlight, rowLine, sanitize, stripTags, styled, textWidth, type Column } from './text.js'

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

/** The per-core cells never take more than this: a 64-core host shows groups of cores. */
const MAX_CORE_CELLS = 16

/**
 * The hosts pane's columns; `range` is what the sparkline covers, `hosts` the listed hosts (a
 * figure none of them reports gets no column; CORES is as wide as the most cores, up to 16). At 80 columns NAME and MEM shrink first, and load
 * and the sparkline are kept over SEEN, the bar, uptime and tags (issue 18: at 80x24 the pane
 * showed neither); the alert marker stays, the figures of issue 18 (fullest disk, swap, cores)
 * go first. Colours are the node's alert levels (alerts.ts), never judged here.
 */
export function hostColumns (range: TrailRange = 'live', hosts: readonly PeerEntry[] = []): Array<Column<HostRowData>> {
  const windowMs = TRAIL_RANGE_MS[range]
  const maxCores = hosts.reduce((n, h) => Math.max(n, h.host.cores?.length ?? 0), 0)
  const coreCells = Math.max(5, Math.min(MAX_CORE_CELLS, maxCores))
  // a figure no listed host reports (other platforms, older nodes) gets no column
  const reported = (has: (h: PeerEntry) => boolean): boolean => hosts.some(has)
  const cols: Array<Column<HostRowData> | undefined> = [
    { header: 'STATUS', width: 10, priority: 100, cell: r => { const st = hostState(r.host); return `${r.g.status[st.glyph]} ${st.label}` }, style: r => `${hostState(r.host).color}-fg` },
    { header: 'NAME', width: 18, minWidth: 8, priority: 99, cell: r => sanitize(r.host.name) + (r.host.self ? ' *' : ''), style: r => r.host.self ? 'bold' : undefined },
    { header: 'CPU%', width: 6, align: 'right', priority: 98, cell: r => r.host.host.cpuPercent.toFixed(1), style: r => hostFigureStyle(r.host, 'cpu') },
    // a warning or critical alert of any figure, drawn even where that figure's column is not
    { header: '', width: 1, priority: 97, cell: r => hostMarkLevel(r.host) !== undefined ? r.g.alert : '', style: r => { const l = hostMarkLevel(r.host); return l !== undefined ? ALERT_STYLE[l] : undefined } },
    { header: '', width: 10, priority: 60, cell: r => bar(r.host.host.cpuPercent, 10, r.g), style: r => hostFigureStyle(r.host, 'cpu') },
    { header: 'MEM', width: 13, minWidth: 10, align: 'right', priority: 90, cell: r => `${formatBytes(r.host.host.memUsed)}/${formatBytes(r.host.host.memTotal)}`, style: r => hostFigureStyle(r.host, 'mem') },
    { header: 'PROCS', width: 6, align: 'right', priority: 80, cell: r => String(r.host.procCount) },
    { header: 'LOAD', width: 14, priority: 76, cell: r => r.host.host.load.map(formatLoad).join(' '), style: r => hostFigureStyle(r.host, 'load') },
    { header: 'SEEN', width: 8, priority: 75, cell: r => r.host.self ? 'now' : formatAgo(r.host.lastSeen, r.now) },
    { header: `CPU ${TRAIL_RANGE_LABELS[range]}`, width: SPARK_WIDTH, priority: 77, cell: r => sparkline(r.trail, r.now, SPARK_WIDTH, r.g, windowMs), style: () => range === 'live' ? 'cyan-fg' : 'magenta-fg' },
    reported(h => (h.host.disks?.length ?? 0) > 0) ? { header: 'DISK', width: 14, minWidth: 8, priority: 72, cell: r => { const d = fullestDisk(r.host.host.disks); return d !== undefined ? `${diskPercent(d)}% ${sanitize(d.mount)}` : '-' }, style: r => { const d = fullestDisk(r.host.host.disks); return d !== undefined ? hostFigureStyle(r.host, 'disk', d.mount) : undefined } } : undefined,
    reported(h => h.host.swapTotal !== undefined) ? { header: 'SWAP', width: 11, minWidth: 9, align: 'right', priority: 70, cell: r => swapCell(r.host), style: r => hostFigureStyle(r.host, 'swap') } : undefined,
    maxCores > 0 ? { header: 'CORES', width: coreCells, priority: 65, cell: r => coreBars(r.host.host.cores ?? [], coreCells, r.g), style: r => hostFigureStyle(r.host, 'cpu') } : undefined,
    { header: 'UP', width: 7, priority: 40, cell: r => formatUptime(r.host.host.uptime) },
    { header: 'TAGS', width: 8, priority: 50, flex: true, cell: r => sanitize(formatTags(r.host.tags)) }
  ]
  return cols.filter((c): c is Column<HostRowData> => c !== undefined)
}

/** df's Use%: used over what users could ever have (used + avail), rounded up as df does. */
export function diskPercent (d: DiskUsage): number {
  const whole = d.used + d.avail
  return whole > 0 ? Math.ceil((d.used * 100) / whole) : 0
}

/** The filesystem nearest to full (df's Use%), the one a host row shows. */
export function fullestDisk (disks: readonly DiskUsage[] | undefined): DiskUsage | undefined {
  let out: DiskUsage | undefined
  for (const d of disks ?? []) if (out === undefined || diskPercent(d) > diskPercent(out)) out = d
  return out
}

/** Swap used/total; `none` on a host without swap, `-` where the host does not say. */
export function swapCell (host: PeerEntry): string {
  const { swapTotal, swapUsed } = host.host
  if (swapTotal === undefined || swapUsed === undefined) return '-'
  if (swapTotal === 0) return 'none'
  return `${formatBytes(swapUsed)}/${formatBytes(swapTotal)}`
}

/**
 * Each core's CPU% as one sparkline glyph (btop's per-core meters in one row); more cores than
 * `width` are shown as groups, each the mean of its cores. Empty when the host does not say.
 */
export function coreBars (cores: readonly number[], width: number, g: Glyphs): string {
  if (cores.length === 0 || width <= 0) return ''
  const cells = Math.min(width, cores.length)
  const top = g.spark.length - 1
  const out: string[] = []
  for (let i = 0; i < cells; i++) {
    const group = cores.slice(Math.floor((i * cores.length) / cells), Math.floor(((i + 1) * cores.length) / cells))
    const v = Math.max(0, Math.min(100, group.reduce((a, b) => a + b, 0) / Math.max(1, group.length)))
    out.push(g.spark[1 + Math.round((v / 100) * (top - 1))])
  }
  return out.join('')
}

/** A byte rate, e.g. `1.2M/s`. */
function rate (bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`
}

/**
 * The host's figures that have no column at this width, on one line under its row (the selected
 * host): cores, swap, every filesystem, disk and network rates, open files and sockets. Each part
 * is drawn in its alert's colour; parts that do not fit are left out from the end.
 */
export function hostInfoLine (host: PeerEntry, width: number, g: Glyphs): string {
  const h = host.host
  const parts: string[] = []
  if (h.cores !== undefined && h.cores.length > 0) parts.push(`cores ${styled(coreBars(h.cores, 32, g), hostFigureStyle(host, 'cpu'))}`)
  if (h.swapTotal !== undefined) parts.push(`swap ${styled(swapCell(host), hostFigureStyle(host, 'swap'))}`)
  if (h.memAvailable !== undefined) parts.push(`avail ${formatBytes(h.memAvailable)}${h.memCached !== undefined ? ` cache ${formatBytes(h.memCached)}` : ''}`)
  if (h.disks !== undefined && h.disks.length > 0) {
    const byUse = [...h.disks].sort((a, b) => diskPercent(b) - diskPercent(a))
    parts.push(`disks ${byUse.map(d => styled(`${sanitize(d.mount)} ${diskPercent(d)}%`, hostFigureStyle(host, 'disk', d.mount))).join(' ')}`)
  }
  if (h.io !== undefined) {
    parts.push(`disk r/w ${rate(h.io.diskRead)} ${rate(h.io.diskWrite)}`)
    parts.push(`net rx/tx ${rate(h.io.netRx)} ${rate(h.io.netTx)}`)
  }
  if (h.openFiles !== undefined) parts.push(`files ${h.openFiles}`)
  if (h.sockets !== undefined) parts.push(`sockets ${h.sockets}`)
  let line = `{bold}${esc(sanitize(host.name))}{/bold}`
  if (parts.length === 0) return `${line} {grey-fg}(no further figures from this host){/grey-fg}`
  for (const part of parts) {
    const next = `${line} │ ${part}`
    if (textWidth(stripTags(next)) > width) break
    line = next
  }
  return line
}

/** The hosts pane: column header, then the visible rows. */
export function hostLines (s: State, width: number, rows: number, g: Glyphs, focused: boolean, info = false): string[] {
  const cols = fitColumns(hostColumns(s.trailRange, s.hosts), width)
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
  const cursor = s.hosts[s.hostCursor]
  if (info && cursor !== undefined) lines.push(hostInfoLine(cursor, width, g))
  return lines
}

/** A load average in at most 4 characters, so three always fit the column (busy hosts run at 10+). */
export function formatLoad (load: number): string {
  if (load < 10) return load.toFixed(2)
  if (load < 100) return load.toFixed(1)
  return String(Math.round(load))
}
