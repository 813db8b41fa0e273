/**
 * Text of the TUI: header, host and process lines, bars, sparklines, details, dialogs.
 * Pure functions of the state and a width. Lines carry blessed tags for colour; every
 * piece of remote text is sanitised (no terminal escapes from a process name) and
 * tag-escaped before it is placed.
 */
import { SIGNALS, type SignalName } from '../../protocols/messages.js'
import type { PeerEntry, PeerStatus, ProcessInfo } from '../../protocols/types.js'
import { formatAgo, formatBytes, formatTags, formatUptime, shortId } from '../format.js'
import { bindingLabel, footerItems, helpBlocks, helpSections, KEYMAP } from './keymap.js'
import { helpLayout } from './layout.js'
import type { ProcRow } from './rows.js'
import { SORT_LABELS, TRAIL_WINDOW_MS, markKey, type CpuPoint, type Details, type HostProcs, type Modal, type ProcRef, type State } from './model.js'

// ---- glyphs ----

export interface Glyphs {
  status: Readonly<Record<PeerStatus, string>>
  /** sparkline levels, lowest first; index 0 is "no data" */
  spark: readonly string[]
  barFull: string
  /** partial cells of a bar, by eighths (index 0 unused) */
  barPartial: readonly string[]
  ellipsis: string
  /** turn protocols/processes.ts's box-drawing prefix into what the terminal can show */
  tree: (prefix: string) => string
  up: string
  down: string
}

export const UNICODE_GLYPHS: Glyphs = {
  status: { online: '●', stale: '◐', offline: '○' },
  spark: [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'],
  barFull: '█',
  barPartial: ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'],
  ellipsis: '…',
  tree: p => p,
  up: '↑',
  down: '↓'
}

export const ASCII_GLYPHS: Glyphs = {
  status: { online: '*', stale: '~', offline: 'x' },
  spark: [' ', '_', '.', '-', ':', '=', '+', '*', '#'],
  barFull: '#',
  barPartial: ['', '', '', '', '', '', '', ''],
  ellipsis: '~',
  tree: p => p.replace(/│/g, '|').replace(/├─/g, '|-').replace(/└─/g, '`-'),
  up: '^',
  down: 'v'
}

// ---- text primitives ----

// CSI and OSC sequences, then any other control character
const ANSI_SEQUENCE = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g
const CONTROL_CHARS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g

/** Remote text made safe to draw: escape sequences removed, control characters shown as `?`. */
export function sanitize (text: string): string {
  return text.replace(ANSI_SEQUENCE, '').replace(/\t/g, ' ').replace(CONTROL_CHARS, '?')
}

/** Escape blessed's tag braces. */
export function esc (text: string): string {
  return text.replace(/[{}]/g, c => c === '{' ? '{open}' : '{close}')
}

export function stripTags (line: string): string {
  return line.replace(/\{\/?[a-z-]*\}/g, m => m === '{open}' ? '{' : m === '{close}' ? '}' : '')
}

export function textWidth (text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

/** Exactly `width` characters: cut with an ellipsis, or padded. */
export function fit (text: string, width: number, align: 'left' | 'right' = 'left', ellipsis = '…'): string {
  if (width <= 0) return ''
  const chars = Array.from(text)
  if (chars.length > width) return width === 1 ? chars[0] : chars.slice(0, width - 1).join('') + ellipsis
  const pad = ' '.repeat(width - chars.length)
  return align === 'right' ? pad + text : text + pad
}

/** A bar `width` cells wide filled to `percent` (0..100), in eighths where the glyphs allow. */
export function bar (percent: number, width: number, g: Glyphs): string {
  if (width <= 0) return ''
  const p = Number.isFinite(percent) ? Math.max(0, Math.min(100, percent)) : 0
  const eighths = Math.round(p / 100 * width * 8)
  const full = Math.floor(eighths / 8)
  const part = g.barPartial[eighths % 8] ?? ''
  const text = g.barFull.repeat(full) + part
  return text + ' '.repeat(Math.max(0, width - textWidth(text)))
}

/**
 * CPU over the last `windowMs` in `width` time buckets (mean per bucket), oldest left.
 * A bucket without samples stays blank; any sample, even 0%, shows at least the lowest level.
 */
export function sparkline (trail: readonly CpuPoint[], now: number, width: number, g: Glyphs, windowMs = TRAIL_WINDOW_MS): string {
  if (width <= 0) return ''
  const bucketMs = windowMs / width
  const start = now - windowMs
  const sums = new Array<number>(width).fill(0)
  const counts = new Array<number>(width).fill(0)
  for (const p of trail) {
    const i = Math.floor((p.at - start) / bucketMs)
    if (i < 0 || i >= width) continue
    sums[i] += p.cpu
    counts[i]++
  }
  const top = g.spark.length - 1
  return sums.map((sum, i) => {
    if (counts[i] === 0) return g.spark[0]
    const v = Math.max(0, Math.min(100, sum / counts[i]))
    return g.spark[1 + Math.round(v / 100 * (top - 1))]
  }).join('')
}

export function cpuColor (percent: number): string {
  return percent >= 80 ? 'red' : percent >= 50 ? 'yellow' : 'green'
}

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

function styled (text: string, style: string | undefined): string {
  const e = esc(text)
  if (style === undefined || style === '') return e
  const open = style.split(' ').map(s => `{${s}}`).join('')
  const close = style.split(' ').reverse().map(s => `{/${s}}`).join('')
  return open + e + close
}

// ---- columns ----

export interface Column<T> {
  header: string
  width: number
  align?: 'left' | 'right'
  /** higher survives longer when the terminal is narrow */
  priority: number
  /** the one column that takes what is left (at least `width`) */
  flex?: boolean
  cell: (row: T) => string
  style?: (row: T) => string | undefined
}

/** The columns that fit `width`, dropping the lowest priorities first, with sizes. */
export function fitColumns<T> (columns: ReadonlyArray<Column<T>>, width: number): Array<Column<T> & { size: number }> {
  let kept = [...columns]
  const need = (cols: ReadonlyArray<Column<T>>): number => cols.reduce((n, c) => n + c.width, 0) + Math.max(0, cols.length - 1)
  while (kept.length > 1 && need(kept) > width) {
    const lowest = kept.reduce((lo, c) => c.priority < lo.priority ? c : lo)
    kept = kept.filter(c => c !== lowest)
  }
  const spare = Math.max(0, width - need(kept))
  return kept.map(c => ({ ...c, size: c.flex === true ? c.width + spare : c.width }))
}

export function headerLine<T> (cols: ReadonlyArray<Column<T> & { size: number }>): string {
  return cols.map(c => fit(c.header, c.size, c.align)).join(' ')
}

export function rowLine<T> (cols: ReadonlyArray<Column<T> & { size: number }>, row: T, g: Glyphs): string {
  return cols.map(c => styled(fit(c.cell(row), c.size, c.align, g.ellipsis), c.style?.(row))).join(' ')
}

/** Highlight a whole line (the selection): inverse when its pane has the focus. */
export function highlight (line: string, focused: boolean): string {
  return focused ? `{inverse}${line}{/inverse}` : `{underline}${line}{/underline}`
}

// ---- header ----

export interface MeshTotals { online: number, total: number, cpuPercent: number, memUsed: number, memTotal: number }

/** Mesh-wide CPU (weighted by cores) and memory over the hosts that are not offline. */
export function meshTotals (hosts: readonly PeerEntry[]): MeshTotals {
  let cores = 0
  let busy = 0
  let memUsed = 0
  let memTotal = 0
  let online = 0
  for (const h of hosts) {
    if (isReachableOnline(h)) online++
    if (h.status === 'offline') continue
    const c = Math.max(1, h.host.cpus)
    cores += c
    busy += h.host.cpuPercent * c
    memUsed += h.host.memUsed
    memTotal += h.host.memTotal
  }
  return { online, total: hosts.length, cpuPercent: cores > 0 ? busy / cores : 0, memUsed, memTotal }
}

function clock (ms: number): string {
  const d = new Date(ms)
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map(n => String(n).padStart(2, '0')).join(':')
}

export function headerText (s: State, width: number, g: Glyphs): string {
  const t = meshTotals(s.hosts)
  const self = s.hosts.find(h => h.self)
  const conn = s.connection === 'up'
    ? ''
    : s.connection === 'down'
      ? ` {red-fg}${esc(s.connectionNote !== '' ? s.connectionNote : 'node restarting…')}{/red-fg} │`
      : ` {yellow-fg}${esc(s.connectionNote !== '' ? s.connectionNote : 'connecting…')}{/yellow-fg} │`
  const left = `{bold}procmesh top{/bold} │ node ${styled(sanitize(self?.name ?? '?'), 'bold')} │ mesh ${t.online}/${t.total} online │ ` +
    `CPU ${styled(`${t.cpuPercent.toFixed(1)}%`, `${cpuColor(t.cpuPercent)}-fg`)} ${styled(bar(t.cpuPercent, 10, g), `${cpuColor(t.cpuPercent)}-fg`)} │ ` +
    `MEM ${formatBytes(t.memUsed)}/${formatBytes(t.memTotal)} │${conn}`
  const right = clock(s.now)
  const pad = Math.max(1, width - textWidth(stripTags(left)) - right.length)
  return left + ' '.repeat(pad) + right
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/**
 * START as `procmesh ps` shows it (HH:MM today, else `Mon DD`), without the locale
 * machinery of toLocaleDateString: it runs for every visible row on every redraw.
 */
export function startCell (ms: number, now: number): string {
  const d = new Date(ms)
  const t = new Date(now)
  if (d.getFullYear() === t.getFullYear() && d.getMonth() === t.getMonth() && d.getDate() === t.getDate()) {
    return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
  }
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, '0')}`
}

// ---- hosts pane ----

export interface HostRowData { host: PeerEntry, trail: readonly CpuPoint[], now: number, g: Glyphs }

export function hostColumns (): Array<Column<HostRowData>> {
  return [
    { header: 'STATUS', width: 10, priority: 100, cell: r => { const st = hostState(r.host); return `${r.g.status[st.glyph]} ${st.label}` }, style: r => `${hostState(r.host).color}-fg` },
    { header: 'NAME', width: 18, priority: 99, cell: r => sanitize(r.host.name) + (r.host.self ? ' *' : ''), style: r => r.host.self ? 'bold' : undefined },
    { header: 'CPU%', width: 6, align: 'right', priority: 98, cell: r => r.host.host.cpuPercent.toFixed(1), style: r => `${cpuColor(r.host.host.cpuPercent)}-fg` },
    { header: '', width: 10, priority: 60, cell: r => bar(r.host.host.cpuPercent, 10, r.g), style: r => `${cpuColor(r.host.host.cpuPercent)}-fg` },
    { header: 'MEM', width: 13, align: 'right', priority: 90, cell: r => `${formatBytes(r.host.host.memUsed)}/${formatBytes(r.host.host.memTotal)}` },
    { header: 'PROCS', width: 6, align: 'right', priority: 80, cell: r => String(r.host.procCount) },
    { header: 'LOAD', width: 14, priority: 70, cell: r => r.host.host.load.map(formatLoad).join(' ') },
    { header: 'SEEN', width: 8, priority: 75, cell: r => r.host.self ? 'now' : formatAgo(r.host.lastSeen, r.now) },
    { header: `CPU ${TRAIL_WINDOW_MS / 60_000}m`, width: 16, priority: 65, cell: r => sparkline(r.trail, r.now, 16, r.g), style: () => 'cyan-fg' },
    { header: 'UP', width: 7, priority: 40, cell: r => formatUptime(r.host.host.uptime) },
    { header: 'TAGS', width: 8, priority: 50, flex: true, cell: r => sanitize(formatTags(r.host.tags)) }
  ]
}

/** The hosts pane: column header, then the visible rows. */
export function hostLines (s: State, width: number, rows: number, g: Glyphs, focused: boolean): string[] {
  const cols = fitColumns(hostColumns(), width)
  const lines = [`{bold}${esc(headerLine(cols))}{/bold}`]
  if (s.hosts.length === 0) {
    lines.push(s.connection === 'up' ? 'no hosts yet: waiting for the mesh view' : esc(s.connectionNote !== '' ? s.connectionNote : 'connecting to the node…'))
    return lines
  }
  const end = Math.min(s.hosts.length, s.hostScroll + rows)
  for (let i = s.hostScroll; i < end; i++) {
    const host = s.hosts[i]
    let line = rowLine(cols, { host, trail: s.cpuTrail[host.peerId] ?? [], now: s.now, g }, g)
    if (host.status === 'offline') line = `{grey-fg}${line}{/grey-fg}`
    lines.push(i === s.hostCursor ? highlight(line, focused) : line)
  }
  return lines
}

// ---- processes pane ----

export interface ProcRowData { row: ProcRow, now: number, g: Glyphs, marked?: boolean }

const STATE_COLOR: Readonly<Record<string, string>> = { R: 'green-fg', D: 'yellow-fg', Z: 'red-fg', T: 'magenta-fg', t: 'magenta-fg' }

/**
 * Who started a managed process, short enough for a table cell: `name (peer id)` becomes
 * the name, a bare peer id its short form. The details pane shows it whole.
 */
export function shortStarter (startedBy: string): string {
  const named = /^(.+) \(\w{20,}\)$/.exec(startedBy)
  if (named !== null) return named[1]
  return /^\w{20,}$/.test(startedBy) ? shortId(startedBy) : startedBy
}

/** `[m:ID by WHO]` for a process started through the mesh, empty otherwise. */
export function managedMark (p: ProcessInfo): string {
  if (p.managedId === undefined) return ''
  return p.startedBy !== undefined && p.startedBy !== '' ? `[m:${p.managedId} by ${shortStarter(p.startedBy)}]` : `[m:${p.managedId}]`
}

/** COMMAND: tree prefix, fold mark, managed mark (who started it), then the command line. */
export function commandCell (row: ProcRow, g: Glyphs): string {
  const p = row.proc
  const lead = row.prefix !== '' ? `${g.tree(row.prefix)} ` : ''
  const fold = row.folded ? `[+${row.subtreeCount - 1}] ` : ''
  const mark = managedMark(p)
  const cmd = p.cmd !== '' ? p.cmd : p.name
  return sanitize(`${lead}${fold}${mark !== '' ? mark + ' ' : ''}${cmd}`)
}

export function procColumns (meshWide: boolean, tree: boolean): Array<Column<ProcRowData>> {
  const cols: Array<Column<ProcRowData>> = []
  if (meshWide) cols.push({ header: 'HOST', width: 12, priority: 95, cell: r => sanitize(r.row.hostName), style: () => 'cyan-fg' })
  cols.push(
    { header: 'PID', width: 7, align: 'right', priority: 100, cell: r => `${r.marked === true ? '*' : ''}${r.row.proc.pid}`, style: r => r.marked === true ? 'yellow-fg' : undefined },
    { header: 'USER', width: 9, priority: 70, cell: r => sanitize(r.row.proc.user) },
    { header: 'CPU%', width: 6, align: 'right', priority: 90, cell: r => r.row.proc.cpuPercent.toFixed(1), style: r => r.row.proc.cpuPercent >= 50 ? `${cpuColor(r.row.proc.cpuPercent)}-fg` : undefined },
    { header: 'RSS', width: 7, align: 'right', priority: 85, cell: r => formatBytes(r.row.proc.rss) }
  )
  if (tree) {
    cols.push(
      { header: 'ΣCPU%', width: 6, align: 'right', priority: 55, cell: r => r.row.hasChildren ? r.row.subtreeCpu.toFixed(1) : '', style: r => r.row.folded ? 'bold' : undefined },
      { header: 'ΣRSS', width: 7, align: 'right', priority: 54, cell: r => r.row.hasChildren ? formatBytes(r.row.subtreeRss) : '', style: r => r.row.folded ? 'bold' : undefined }
    )
  }
  cols.push(
    { header: 'S', width: 1, priority: 60, cell: r => sanitize(r.row.proc.state), style: r => STATE_COLOR[r.row.proc.state] },
    { header: 'START', width: 6, priority: 50, cell: r => startCell(r.row.proc.startTime, r.now) },
    { header: 'COMMAND', width: 28, priority: 99, flex: true, cell: r => commandCell(r.row, r.g), style: r => r.row.proc.managedId !== undefined ? 'magenta-fg' : undefined }
  )
  return cols
}

/** The processes pane's title: whose processes, how many, filter, sort, view. */
export function procTitle (s: State, rowCount: number, g: Glyphs): string {
  const host = s.hosts.find(h => h.peerId === s.selectedHost)
  const whose = s.meshWide ? 'all hosts' : sanitize(host?.name ?? '-')
  const total = s.meshWide
    ? Object.values(s.procs).reduce((n, h) => n + h.processes.length, 0)
    : s.selectedHost !== undefined ? (s.procs[s.selectedHost]?.processes.length ?? 0) : 0
  const count = s.filter !== '' ? `${rowCount} of ${total}` : String(rowCount)
  const parts = [`Processes: ${whose} (${count})`]
  if (s.filter !== '') parts.push(`filter "${sanitize(s.filter)}"`)
  parts.push(`sort ${SORT_LABELS[s.sort]} ${s.reverse ? g.up : g.down}`)
  parts.push(s.tree ? 'tree' : 'flat')
  if (s.meshWide) parts.push('mesh-wide')
  return ` ${parts.join(' │ ')} `
}

/** Why the list is empty, or a host's error above a stale list. */
export function procNotice (s: State): string | undefined {
  if (s.meshWide) {
    const failed = Object.values(s.procs).filter(h => h.error !== undefined)
    if (failed.length > 0) return failed.map(h => `${sanitize(h.name)}: ${sanitize(h.error?.message ?? '')}`).join('; ')
    return Object.keys(s.procs).length === 0 ? 'listing the processes of every host…' : undefined
  }
  if (s.selectedHost === undefined) return s.connection === 'up' ? 'no host selected' : undefined
  const h: HostProcs | undefined = s.procs[s.selectedHost]
  const name = sanitize(s.hosts.find(x => x.peerId === s.selectedHost)?.name ?? 'the host')
  if (h === undefined) return `listing the processes of ${name}…`
  if (h.error !== undefined) {
    const age = h.collectedAt !== undefined ? ` (showing the list from ${formatAgo(h.collectedAt, s.now)})` : ''
    return `${name}: ${sanitize(h.error.message)}${age}`
  }
  return undefined
}

export function procLines (s: State, rows: readonly ProcRow[], width: number, visible: number, g: Glyphs, focused: boolean): string[] {
  const cols = fitColumns(procColumns(s.meshWide, s.tree), width)
  const lines = [`{bold}${esc(headerLine(cols))}{/bold}`]
  const notice = procNotice(s)
  let room = visible
  if (notice !== undefined) {
    lines.push(`{yellow-fg}${esc(fit(notice, width, 'left', g.ellipsis))}{/yellow-fg}`)
    room--
  } else if (rows.length === 0 && s.filter !== '') {
    lines.push(esc(`nothing matches "${sanitize(s.filter)}" (Esc clears the filter)`))
    return lines
  }
  // keep the cursor's row visible even when the notice takes a line
  const top = s.procCursor >= s.procScroll + room ? s.procCursor - room + 1 : s.procScroll
  const end = Math.min(rows.length, top + room)
  for (let i = top; i < end; i++) {
    const marked = s.marked[markKey({ peerId: rows[i].peerId, pid: rows[i].proc.pid, startTime: rows[i].proc.startTime })] !== undefined
    const line = rowLine(cols, { row: rows[i], now: s.now, g, marked }, g)
    lines.push(i === s.procCursor ? highlight(line, focused) : line)
  }
  return lines
}

// ---- details pane ----

/** Cut text into lines of at most `width` characters. */
export function wrap (text: string, width: number): string[] {
  if (width <= 0) return []
  const chars = Array.from(text)
  const out: string[] = []
  for (let i = 0; i < chars.length; i += width) out.push(chars.slice(i, i + width).join(''))
  return out.length > 0 ? out : ['']
}

function dateTime (ms: number): string {
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

export function detailsTitle (d: Details): string {
  const logs = d.logs !== undefined ? (d.logs.ended !== undefined ? ' │ logs (ended)' : d.logs.scroll > 0 ? ' │ logs (scrolled back: End follows)' : ' │ logs (following)') : ''
  return ` ${sanitize(d.target.name)} (pid ${d.target.pid}) on ${sanitize(d.target.hostName)}${logs} `
}

/** The details pane: facts, command line, parent chain, then the tail of the logs. */
export function detailsLines (d: Details, parents: readonly ProcessInfo[], now: number, width: number, height: number): string[] {
  const p = d.snapshot
  const lines: string[] = []
  const gone = d.gone ? '  {red-fg}(no longer listed: it has exited){/red-fg}' : ''
  lines.push(esc(`PID ${p.pid}  PPID ${p.ppid}  USER ${sanitize(p.user)} (uid ${p.uid})  STATE ${sanitize(p.state)}  CPU ${p.cpuPercent.toFixed(1)}%  RSS ${formatBytes(p.rss)}`) + gone)
  const ran = Math.max(0, Math.round((now - p.startTime) / 1000))
  lines.push(esc(`started ${dateTime(p.startTime)} (running ${formatUptime(ran)})`) +
    (p.managedId !== undefined ? `  {magenta-fg}${esc(`managed ${p.managedId}${p.startedBy !== undefined ? ` started by ${sanitize(p.startedBy)}` : ''}`)}{/magenta-fg}` : ''))
  const chain = parents.length > 0 ? parents.map(x => `${x.pid} ${sanitize(x.name)}`).join(' ← ') : '(none listed)'
  lines.push(esc(fit(`parents: ${chain}`, width).trimEnd()))
  const cmd = wrap(`cmd: ${sanitize(p.cmd !== '' ? p.cmd : `[${p.name}]`)}`, width)
  const logs = d.logs
  // the command line gets at most half the pane when logs share it
  const cmdRoom = logs !== undefined ? Math.max(1, Math.floor(height / 2) - lines.length) : height - lines.length
  const shownCmd = cmd.slice(0, Math.max(1, cmdRoom))
  // a cut command line ends in an ellipsis, so nobody mistakes it for the whole
  if (shownCmd.length < cmd.length) shownCmd[shownCmd.length - 1] = Array.from(shownCmd[shownCmd.length - 1]).slice(0, Math.max(0, width - 1)).join('') + '…'
  lines.push(...shownCmd.map(esc))
  if (logs === undefined) return lines.slice(0, height)
  const state = logs.ended !== undefined ? (logs.failed === true ? `{red-fg}${esc(logs.ended)}{/red-fg}` : esc(logs.ended)) : 'following'
  lines.push(`{bold}── logs ─{/bold} ${state}`)
  const room = Math.max(0, height - lines.length)
  const all = logs.partial !== '' ? [...logs.lines, logs.partial] : logs.lines
  const end = Math.max(0, all.length - logs.scroll)
  const tail = all.slice(Math.max(0, end - room), end)
  if (tail.length === 0 && room > 0) lines.push('{grey-fg}(no output yet){/grey-fg}')
  for (const l of tail) lines.push(esc(fit(sanitize(l), width, 'left')).trimEnd())
  return lines.slice(0, height)
}

// ---- status line and footer ----

/** How long a message stays on the status line. */
export const INFO_TTL_MS = 6000
export const ERROR_TTL_MS = 20_000

export function statusText (s: State, width: number): string {
  if (s.modal?.kind === 'filter') return `{bold}Filter:{/bold} ${esc(sanitize(s.filter))}{inverse} {/inverse}`
  const st = s.status
  if (st === undefined) return ''
  const ttl = st.level === 'error' ? ERROR_TTL_MS : INFO_TTL_MS
  if (s.now - st.at > ttl) return ''
  const text = esc(fit(sanitize(st.text), width - 2).trimEnd())
  return st.level === 'error' ? `{red-fg}{bold}!{/bold} ${text}{/red-fg}` : `{green-fg}>{/green-fg} ${text}`
}

export function footerText (s: State, width: number): string {
  const items = footerItems(s)
  const out: string[] = []
  let used = 0
  for (const item of items) {
    const w = textWidth(item) + 2
    if (used + w > width) break
    used += w
    const sp = item.indexOf(' ')
    out.push(sp > 0 ? `{bold}{cyan-fg}${esc(item.slice(0, sp))}{/cyan-fg}{/bold}${esc(item.slice(sp))}` : esc(item))
  }
  return out.join('  ')
}

// ---- dialogs ----

export const SIGNAL_NOTES: Readonly<Record<SignalName, string>> = {
  TERM: 'terminate: ask it to exit (the default)',
  KILL: 'kill: end it at once, no clean-up',
  INT: 'interrupt, as Ctrl-C does',
  HUP: 'hang up: many daemons reload',
  QUIT: 'quit, with a core dump',
  USR1: 'user signal 1',
  USR2: 'user signal 2',
  STOP: 'pause it',
  CONT: 'resume it'
}

export interface Dialog { title: string, lines: string[], width: number, height: number }

/** The overlay for a modal (the filter prompt lives on the status line instead). */
export function dialogFor (m: Modal, cols: number, rows: number): Dialog | undefined {
  const maxW = Math.max(20, cols - 4)
  switch (m.kind) {
    case 'filter':
      return undefined
    case 'help': {
      const hl = helpLayout(cols, rows, helpBlocks())
      const sections = helpSections()
      const keyW = Math.max(...KEYMAP.map(b => textWidth(bindingLabel(b)))) + 2
      // every line padded to exactly the column width, so two columns line up without measuring tags
      const block = (i: number): string[] => {
        const sec = sections[i]
        return [
          `{bold}${esc(fit(sec.title, hl.colWidth))}{/bold}`,
          ...sec.lines.map(([k, d]) => `  {cyan-fg}${esc(fit(k, keyW))}{/cyan-fg}${esc(fit(d, Math.max(1, hl.colWidth - keyW - 2)))}`),
          ' '.repeat(hl.colWidth)
        ]
      }
      let lines: string[]
      if (hl.twoColumns) {
        const left = sections.slice(0, hl.rightFrom).flatMap((_, i) => block(i))
        const right = sections.slice(hl.rightFrom).flatMap((_, i) => block(hl.rightFrom + i))
        lines = Array.from({ length: hl.lines }, (_, i) => `${left[i] ?? ' '.repeat(hl.colWidth)} │ ${right[i] ?? ''}`)
      } else {
        lines = sections.flatMap((_, i) => block(i))
      }
      const scroll = Math.min(m.scroll, hl.maxScroll)
      const shown = lines.slice(scroll, scroll + hl.visible)
      const more = hl.maxScroll > 0 ? ` (${scroll + 1}-${scroll + shown.length} of ${lines.length}: Up/Down scroll)` : ''
      return { title: ` Help: procmesh top${more} `, lines: shown, width: hl.width, height: shown.length + 2 }
    }
    case 'signal': {
      const t = m.target
      if ((m.others ?? []).length > 0) {
        const all = [t, ...(m.others ?? [])]
        const lines = [
          esc(`Stop ${all.length} marked processes on ${new Set(all.map(x => x.peerId)).size} host(s)`),
          '',
          ...SIGNALS.map((sig, i) => {
            const text = esc(` ${i + 1} ${fit(sig, 5)} ${SIGNAL_NOTES[sig]} `)
            return i === m.index ? `{inverse}${text}{/inverse}` : text
          }),
          '',
          `${m.tree ? '[x]' : '[ ]'} also their children (t)`,
          '{grey-fg}Enter: next (you confirm before anything is sent) · Esc: cancel{/grey-fg}'
        ]
        return { title: ' Stop marked processes ', lines, width: Math.min(maxW, 70), height: lines.length + 2 }
      }
      const lines = [
        esc(`Stop ${sanitize(t.name)} (pid ${t.pid}) on ${sanitize(t.hostName)}`),
        esc(fit(sanitize(t.cmd), Math.min(maxW, 70) - 2)),
        '',
        ...SIGNALS.map((sig, i) => {
          const text = esc(` ${i + 1} ${fit(sig, 5)} ${SIGNAL_NOTES[sig]} `)
          return i === m.index ? `{inverse}${text}{/inverse}` : text
        }),
        '',
        `${m.tree ? '[x]' : '[ ]'} also its children (t)`,
        '{grey-fg}Enter: next (you confirm before anything is sent) · Esc: cancel{/grey-fg}'
      ]
      return { title: ' Stop a process ', lines, width: Math.min(maxW, 70), height: lines.length + 2 }
    }
    case 'confirm': {
      const t = m.target
      if ((m.others ?? []).length > 0) {
        const w = Math.min(maxW, 80)
        const lines = [
          `{bold}Send SIG${m.signal} to ${1 + (m.others ?? []).length} processes${m.tree ? ' and all their children' : ''}?{/bold}`,
          '',
          ...selectionLines([t, ...(m.others ?? [])], w - 2, MAX_CONFIRM_HOST_LINES).map(esc),
          '',
          '{green-fg}y{/green-fg}: yes, send it     {red-fg}n{/red-fg}/Esc/Enter: no'
        ]
        return { title: ' Confirm ', lines, width: w, height: lines.length + 2 }
      }
      const lines = [
        `{bold}Send SIG${m.signal} to ${esc(sanitize(t.name))} (pid ${t.pid})${m.tree ? ' and all its children' : ''}{/bold}`,
        `{bold}on host ${esc(sanitize(t.hostName))}?{/bold}`,
        esc(fit(sanitize(t.cmd), Math.min(maxW, 70) - 2)),
        '',
        '{green-fg}y{/green-fg}: yes, send it     {red-fg}n{/red-fg}/Esc/Enter: no'
      ]
      return { title: ' Confirm ', lines, width: Math.min(maxW, 70), height: lines.length + 2 }
    }
    case 'start': {
      const w = Math.min(maxW, 90)
      const draft = Array.from(sanitize(m.draft))
      const room = w - 8
      const shown = draft.length > room ? '…' + draft.slice(draft.length - room + 1).join('') : draft.join('')
      const lines = [
        esc(`Start a process on ${sanitize(m.hostName)}`),
        '{grey-fg}Words split like a shell would (quotes, backslashes), but no shell runs:{/grey-fg}',
        '{grey-fg}no $VARIABLES, globs, pipes or redirection.{/grey-fg}',
        '',
        `{bold}argv>{/bold} ${esc(shown)}{inverse} {/inverse}`,
        m.error !== undefined ? `{red-fg}${esc(fit(m.error, w - 2))}{/red-fg}` : '',
        '{grey-fg}Enter: start · Esc: cancel · Ctrl-U: clear{/grey-fg}'
      ]
      return { title: ' Start ', lines, width: w, height: lines.length + 2 }
    }
  }
}

/** Hosts listed one per line in the confirmation of a marked stop; the rest are counted. */
const MAX_CONFIRM_HOST_LINES = 10

/** `host: pid pid pid` per host of a selection (pure), at most `maxLines` lines, each fitted to `width`. */
export function selectionLines (refs: readonly ProcRef[], width: number, maxLines: number): string[] {
  const byHost = new Map<string, { name: string, pids: number[] }>()
  for (const r of refs) {
    const h = byHost.get(r.peerId) ?? { name: r.hostName, pids: [] }
    h.pids.push(r.pid)
    byHost.set(r.peerId, h)
  }
  const hosts = [...byHost.values()]
  const shown = hosts.length > maxLines ? hosts.slice(0, maxLines - 1) : hosts
  const lines = shown.map(h => fit(`${sanitize(h.name)}: pid ${h.pids.sort((a, b) => a - b).join(' ')}`, width).trimEnd())
  if (shown.length < hosts.length) {
    const rest = hosts.slice(shown.length)
    lines.push(`… and ${rest.reduce((n, h) => n + h.pids.length, 0)} more on ${rest.length} more hosts`)
  }
  return lines
}

/** A load average in at most 4 characters, so three always fit the column (busy hosts run at 10+). */
export function formatLoad (load: number): string {
  if (load < 10) return load.toFixed(2)
  if (load < 100) return load.toFixed(1)
  return String(Math.round(load))
}
