/**
 * The processes pane: its title, the column set for the view, the rows and why a list is empty.
 */
import { parseCopyName } from '../../../protocols/deploy.js'
import type { ProcessInfo } from '../../../protocols/types.js'
import type { ManagedProcess, ManagedState } from '../../../protocols/managed.js'
import { formatAgo, formatBytes, formatCpuTime, formatDuration, formatLastExit, formatPolicy, shortId } from '../../format.js'
import { SORT_LABELS, markKey, type HostProcs, type State } from '../model.js'
import type { ProcRow } from '../rows.js'
import { processStyle } from './alerts.js'
import type { Glyphs } from './glyphs.js'
import { esc, fit, fitColumns, headerLine, highlight, rowLine, sanitize, type Column } from './text.js'

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

/**
 * A process started through the mesh: the marker and its name (`◆api`), or the marker alone;
 * empty otherwise. The id and who started it are in the details pane (Enter), so a row at
 * 80 columns keeps room for the command.
 */
export function managedMark (p: ProcessInfo, g: Glyphs): string {
  if (p.managedId === undefined) return ''
  return `${g.managed}${p.managedName ?? ''}`
}

/** COMMAND: tree prefix, fold mark, managed mark (who started it), then the command line. */
export function commandCell (row: ProcRow, g: Glyphs): string {
  const p = row.proc
  const lead = row.prefix !== '' ? `${g.tree(row.prefix)} ` : ''
  const fold = row.folded ? `[+${row.subtreeCount - 1}] ` : ''
  const mark = managedMark(p, g)
  const cmd = p.cmd !== '' ? p.cmd : p.name
  return sanitize(`${lead}${fold}${mark !== '' ? mark + ' ' : ''}${cmd}`)
}

const MANAGED_STATE_STYLE: Readonly<Record<ManagedState, string>> = {
  running: 'green-fg', restarting: 'yellow-fg', 'crash-loop': 'red-fg bold', exited: 'grey-fg', stopped: 'grey-fg'
}

/** UP/EXIT of the managed view: how long it runs, else how it ended (`exit 1`, `SIGKILL`). */
export function managedUpCell (m: ManagedProcess, now: number): string {
  if (m.state === 'running') return formatDuration(now - m.startTime)
  if (m.lastExit === null) return '-'
  const how = formatLastExit(m)
  return /^\d+$/.test(how) ? `exit ${how}` : how
}

/** DEPLOY of the managed view: the deployment a copy belongs to (copies are named NAME-vVERSION-SLOT), `-` for a process started by hand. */
export function deploymentCell (p: ProcessInfo): string {
  const copy = parseCopyName(p.managedName ?? null)
  return copy !== undefined ? `${copy.deployment} v${copy.version}` : '-'
}

/**
 * The managed view: one row per supervisor record, with its name, state, restarts and how it ended.
 * `copies`: some rows are copies of a deployment; DEPLOY then names it, and at 80 columns the
 * command gives up a few columns so it fits beside UP/EXIT and CPU%.
 */
function managedColumns (meshWide: boolean, copies: boolean): Array<Column<ProcRowData>> {
  const cols: Array<Column<ProcRowData>> = []
  if (meshWide) cols.push({ header: 'HOST', width: 12, priority: 95, cell: r => sanitize(r.row.hostName), style: () => 'cyan-fg' })
  const m = (r: ProcRowData): ManagedProcess | undefined => r.row.managed
  cols.push(
    { header: 'NAME', width: 12, ...(copies ? { minWidth: 10 } : {}), priority: 98, cell: r => sanitize(r.row.proc.managedName ?? '-'), style: () => 'magenta-fg' },
    { header: 'PID', width: 7, align: 'right', priority: 100, cell: r => { const x = m(r); return x === undefined || x.state === 'running' ? `${r.marked === true ? '*' : ''}${r.row.proc.pid}` : '-' } },
    { header: 'STATE', width: 10, priority: 97, cell: r => m(r)?.state ?? 'running', style: r => MANAGED_STATE_STYLE[m(r)?.state ?? 'running'] },
    { header: 'RESTARTS', width: 8, align: 'right', priority: 96, cell: r => { const x = m(r); return x !== undefined ? String(x.restarts) : '?' } },
    // how it ended matters more than its figures when it is not running
    { header: 'UP/EXIT', width: 8, priority: 92, cell: r => { const x = m(r); return x !== undefined ? managedUpCell(x, r.now) : formatDuration(r.now - r.row.proc.startTime) } },
    { header: 'CPU%', width: 6, align: 'right', priority: 90, cell: r => r.row.proc.cpuPercent.toFixed(1), style: r => processStyle(r.row.proc.alert) },
    { header: 'RSS', width: 7, align: 'right', priority: 85, cell: r => formatBytes(r.row.proc.rss), style: r => processStyle(r.row.proc.alert) },
    { header: 'POLICY', width: 13, priority: 50, cell: r => { const x = m(r); return x !== undefined ? formatPolicy(x) : '?' } },
    { header: 'COMMAND', width: 20, ...(copies ? { minWidth: 14 } : {}), priority: 99, flex: true, cell: r => sanitize(r.row.proc.cmd !== '' ? r.row.proc.cmd : r.row.proc.name) }
  )
  if (copies) {
    const at = cols.findIndex(c => c.header === 'NAME') + 1
    cols.splice(at, 0, { header: 'DEPLOY', width: 12, minWidth: 8, priority: 93, cell: r => sanitize(deploymentCell(r.row.proc)), style: () => 'magenta-fg' })
  }
  return cols
}

/**
 * The processes pane's columns for the view; `rows` are the listed rows (NI, THR and TIME+ are
 * left out when none of them reports the figure: another platform, an older node).
 */
export function procColumns (meshWide: boolean, tree: boolean, managedOnly = false, rows: readonly ProcRow[] = []): Array<Column<ProcRowData>> {
  if (managedOnly) return managedColumns(meshWide, rows.some(r => parseCopyName(r.proc.managedName ?? null) !== undefined))
  const reported = (key: 'nice' | 'threads' | 'cpuTime'): boolean => rows.some(r => r.proc[key] !== undefined)
  const cols: Array<Column<ProcRowData>> = []
  if (meshWide) cols.push({ header: 'HOST', width: 12, priority: 95, cell: r => sanitize(r.row.hostName), style: () => 'cyan-fg' })
  cols.push(
    { header: 'PID', width: 7, align: 'right', priority: 100, cell: r => `${r.marked === true ? '*' : ''}${r.row.proc.pid}`, style: r => r.marked === true ? 'yellow-fg' : undefined },
    { header: 'USER', width: 9, priority: 70, cell: r => sanitize(r.row.proc.user) },
    // the node's level for the process (the worse of CPU and memory) colours both figures
    { header: 'CPU%', width: 6, align: 'right', priority: 90, cell: r => r.row.proc.cpuPercent.toFixed(1), style: r => processStyle(r.row.proc.alert) },
    { header: 'RSS', width: 7, align: 'right', priority: 85, cell: r => formatBytes(r.row.proc.rss), style: r => processStyle(r.row.proc.alert) }
  )
  if (tree) {
    cols.push(
      { header: 'ΣCPU%', width: 6, align: 'right', priority: 55, cell: r => r.row.hasChildren ? r.row.subtreeCpu.toFixed(1) : '', style: r => r.row.folded ? 'bold' : undefined },
      { header: 'ΣRSS', width: 7, align: 'right', priority: 54, cell: r => r.row.hasChildren ? formatBytes(r.row.subtreeRss) : '', style: r => r.row.folded ? 'bold' : undefined }
    )
  }
  cols.push(
    { header: 'S', width: 1, priority: 60, cell: r => sanitize(r.row.proc.state), style: r => STATE_COLOR[r.row.proc.state] },
    { header: 'START', width: 6, priority: 50, cell: r => startCell(r.row.proc.startTime, r.now) }
  )
  // htop's NI, THR and TIME+: ranked below COMMAND's 28 columns, so at 80 columns all three go
  if (reported('nice')) cols.push({ header: 'NI', width: 3, align: 'right', priority: 46, cell: r => optional(r.row.proc.nice, String) })
  if (reported('threads')) cols.push({ header: 'THR', width: 4, align: 'right', priority: 45, cell: r => optional(r.row.proc.threads, String) })
  if (reported('cpuTime')) cols.push({ header: 'TIME+', width: 9, align: 'right', priority: 47, cell: r => optional(r.row.proc.cpuTime, formatCpuTime) })
  cols.push({ header: 'COMMAND', width: 28, priority: 99, flex: true, cell: r => commandCell(r.row, r.g), style: r => r.row.proc.managedId !== undefined ? 'magenta-fg' : undefined })
  return cols
}

/** A figure the host may not report (other platforms, older nodes): `-` then. */
function optional (value: number | undefined, format: (n: number) => string): string {
  return value !== undefined ? format(value) : '-'
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
  parts.push(s.managedOnly ? 'managed only' : s.tree ? 'tree' : 'flat')
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
  const cols = fitColumns(procColumns(s.meshWide, s.tree, s.managedOnly, rows), width)
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
