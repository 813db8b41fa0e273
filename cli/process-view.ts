/**
 * Process rows for people and scripts: filter, sort, limit, and format as a table
 * or a tree. Pure: the terminal width and the clock are passed in.
 */
import type { PsEntry } from '../protocols/control.js'
import type { ProcessInfo } from '../protocols/types.js'
import { formatBytes, formatCpuTime, formatStart, table, type Align } from './format.js'
import { compareProcesses, filterProcesses, type SortSpec, type TreeRow } from '../protocols/processes.js'

export interface SelectOptions {
  /** protocols/processes.ts's filter (name, cmd or user contains it, any case); empty matches everything */
  filter?: string
  sort?: SortSpec
  /** keep at most this many rows (after filter and sort) */
  limit?: number
  /** only processes started through procmesh (`ps --managed`) */
  managed?: boolean
}

export interface Selection {
  processes: ProcessInfo[]
  /** rows that matched the filter, before the limit */
  matched: number
  /** rows before the filter */
  total: number
}

export interface FormatOptions {
  /** ms epoch, for the START column */
  now: number
  /** truncate every line to this many characters (a TTY's width); no truncation when absent */
  width?: number
}

export function sortProcesses (processes: readonly ProcessInfo[], sort: SortSpec): ProcessInfo[] {
  return [...processes].sort(compareProcesses(sort.key, sort.reverse === true))
}

/** Filter, then sort, then limit: the one order used by every view, so they agree. */
export function selectProcesses (processes: readonly ProcessInfo[], options: SelectOptions = {}): Selection {
  const matching = filterProcesses(processes, options.filter)
  const filtered = options.managed === true ? matching.filter(p => p.managedId !== undefined) : matching
  const sorted = options.sort !== undefined ? sortProcesses(filtered, options.sort) : filtered
  const limited = options.limit !== undefined && options.limit >= 0 ? sorted.slice(0, options.limit) : sorted
  return { processes: limited, matched: filtered.length, total: processes.length }
}

/**
 * `@name` (or `@<managed id>` when it has no name) for a process started through the mesh:
 * what `logs`, `kill` and `restart` take, in a few characters. Who started it is in `ls` and
 * `ps --json` (`startedBy`); it used to take ~75 characters of every managed row (issue 18).
 */
export function managedMark (p: ProcessInfo): string {
  if (p.managedId === undefined) return ''
  return `@${p.managedName ?? p.managedId}`
}

/** The COMMAND cell: managed mark, then the command line (the name when it has none). */
export function commandLabel (p: ProcessInfo): string {
  const cmd = p.cmd !== '' ? p.cmd : p.name
  const mark = managedMark(p)
  return mark === '' ? cmd : `${mark} ${cmd}`
}

/** Cut a line to `width` characters (code points), ending in `…` when cut. */
export function truncate (line: string, width: number | undefined): string {
  if (width === undefined || width <= 0) return line
  const chars = Array.from(line)
  if (chars.length <= width) return line
  return chars.slice(0, Math.max(0, width - 1)).join('') + '…'
}

function fitLines (text: string, width: number | undefined): string {
  return width === undefined ? text : text.split('\n').map(l => truncate(l, width)).join('\n')
}

function cpuCell (n: number): string {
  return n.toFixed(1)
}

export const PROCESS_HEADERS = ['PID', 'USER', 'NI', 'THR', 'CPU%', 'RSS', 'TIME+', 'STATE', 'START', 'ALERT', 'COMMAND']
const PROCESS_ALIGN: Align[] = ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'left', 'left', 'left', 'left']

/** `careful`, `WARNING`, `CRITICAL`: the answering host's own limits (protocols/thresholds.ts). */
function alertCell (p: ProcessInfo): string {
  return p.alert === undefined ? '' : p.alert === 'careful' ? p.alert : p.alert.toUpperCase()
}

/** The cells of one table row, in PROCESS_HEADERS order (a figure an older node does not send shows `-`). */
export function processCells (p: ProcessInfo, now: number): string[] {
  return [
    String(p.pid), p.user, p.nice !== undefined ? String(p.nice) : '-', p.threads !== undefined ? String(p.threads) : '-',
    cpuCell(p.cpuPercent), formatBytes(p.rss), p.cpuTime !== undefined ? formatCpuTime(p.cpuTime) : '-',
    p.state, formatStart(p.startTime, now), alertCell(p), commandLabel(p)
  ]
}

/** Columns shown only when some row has a value: older nodes send no NI/THR/TIME+, and most hosts no ALERT. */
const OPTIONAL_COLUMNS = new Set(['NI', 'THR', 'TIME+', 'ALERT'])

/** The human table of `procmesh ps`. COMMAND is last, so cutting lines to the width cuts only it. */
export function formatProcessTable (processes: readonly ProcessInfo[], options: FormatOptions): string {
  const rows = processes.map(p => processCells(p, options.now))
  const keep = PROCESS_HEADERS.map((h, i) => !OPTIONAL_COLUMNS.has(h) || rows.some(r => r[i] !== '' && r[i] !== '-'))
  const pick = <T>(list: readonly T[]): T[] => list.filter((_, i) => keep[i])
  return fitLines(table(pick(PROCESS_HEADERS), rows.map(pick), pick(PROCESS_ALIGN)), options.width)
}

export const TREE_HEADERS = ['PID', 'USER', 'CPU%', 'RSS', 'ΣCPU%', 'ΣRSS', 'STATE', 'START', 'COMMAND']
const TREE_ALIGN: Align[] = ['right', 'left', 'right', 'right', 'right', 'right', 'left', 'left', 'left']

/**
 * The tree view: own and subtree (Σ, self included) CPU and memory; the Σ cells are
 * blank for leaves, where they would only repeat the own figures. A folded node
 * shows `+` before its command.
 */
export function formatProcessTree (rows: readonly TreeRow[], options: FormatOptions): string {
  return fitLines(table(TREE_HEADERS, rows.map(r => {
    const p = r.process
    const lead = r.prefix === '' ? '' : `${r.prefix} `
    return [
      String(p.pid), p.user, cpuCell(p.cpuPercent), formatBytes(p.rss),
      r.hasChildren ? cpuCell(r.node.subtreeCpu) : '',
      r.hasChildren ? formatBytes(r.node.subtreeRss) : '',
      p.state, formatStart(p.startTime, options.now),
      `${lead}${r.folded ? '+ ' : ''}${commandLabel(p)}`
    ]
  }), TREE_ALIGN), options.width)
}

/** Targets that name a group of peers: their output gets a header per peer even when one answers. */
export function isGroupTarget (target: string): boolean {
  return target === 'all' || target.startsWith('tag:')
}

/** How many characters of a peer id to show: enough to use as a TARGET prefix (all Ed25519 ids share `12D3KooW`). */
export const PEER_ID_PREFIX_LENGTH = 16

/**
 * The line above each peer's table when several peers answer:
 * `== name (peerId prefix) — N processes ==`, `— 10 of N processes` when limited,
 * or `== name == error: CODE message`.
 */
export function formatPeerHeader (entry: PsEntry, selection?: Selection): string {
  if ('error' in entry) return `== ${entry.name} == error: ${entry.error.code} ${entry.error.message}`
  const shown = selection?.processes.length ?? entry.processes.length
  const matched = selection?.matched ?? entry.processes.length
  const count = shown < matched ? `${shown} of ${matched}` : String(matched)
  return `== ${entry.name} (${entry.peerId.slice(0, PEER_ID_PREFIX_LENGTH)}) — ${count} process${matched === 1 ? '' : 'es'} ==`
}

/** A process in exactly the fields of the CLI contract (`ps --json`), in its order. */
export function processJson (p: ProcessInfo): Record<string, unknown> {
  return {
    pid: p.pid,
    ppid: p.ppid,
    user: p.user,
    name: p.name,
    cmd: p.cmd,
    state: p.state,
    cpuPercent: p.cpuPercent,
    rss: p.rss,
    startTime: p.startTime,
    ...(p.managedId !== undefined ? { managedId: p.managedId } : {}),
    ...(p.managedName !== undefined ? { managedName: p.managedName } : {}),
    // additions beyond the contract's first fields, when the host sends them
    ...(p.threads !== undefined ? { threads: p.threads } : {}),
    ...(p.nice !== undefined ? { nice: p.nice } : {}),
    ...(p.priority !== undefined ? { priority: p.priority } : {}),
    ...(p.cpuTime !== undefined ? { cpuTime: p.cpuTime } : {}),
    ...(p.alert !== undefined ? { alert: p.alert } : {})
  }
}

/** A `ps --json` entry: the contract's fields, with the processes already selected. */
export function psEntryJson (entry: PsEntry, processes?: readonly ProcessInfo[]): Record<string, unknown> {
  if ('error' in entry) return { peerId: entry.peerId, name: entry.name, error: { code: entry.error.code, message: entry.error.message } }
  return { peerId: entry.peerId, name: entry.name, collectedAt: entry.collectedAt, processes: (processes ?? entry.processes).map(processJson) }
}
