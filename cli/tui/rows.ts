/**
 * The rows of the processes pane, derived from the state: filter, sort, tree or flat,
 * folding, one host or the whole mesh. Pure, and memoised on the inputs that change
 * them, so moving the cursor over 20,000 rows never rebuilds the list.
 */
import type { ManagedProcess } from '../../protocols/managed.js'
import type { ProcessInfo } from '../../protocols/types.js'
import { buildTree, compareProcesses, filterHaystack, filterNeedle, flattenTree, withAncestors, type ProcessNode, type SortKey } from '../../protocols/processes.js'
import type { HostManaged, HostProcs } from './model.js'

export interface ProcRow {
  peerId: string
  hostName: string
  proc: ProcessInfo
  /** tree glyphs before the command; empty in the flat view */
  prefix: string
  hasChildren: boolean
  folded: boolean
  /** the process and all its (shown) descendants */
  subtreeCpu: number
  subtreeRss: number
  subtreeCount: number
  /** managed-only view: the supervisor's record (state, restarts, last exit) */
  managed?: ManagedProcess
}

/** The inputs of the rows; every field is compared by identity for the memo. */
export interface RowInputs {
  procs: Readonly<Record<string, HostProcs>>
  /** hosts whose processes are listed, in display order */
  hostIds: readonly string[]
  filter: string
  sort: SortKey
  reverse: boolean
  tree: boolean
  folded: Readonly<Record<string, ReadonlySet<number>>>
  /** list managed processes only, one row per supervisor record (flat) */
  managedOnly: boolean
  managed: Readonly<Record<string, HostManaged>>
}

const NO_FOLDS: ReadonlySet<number> = new Set()

/**
 * Each process's filter haystack (protocols/processes.ts), per process object: typing a
 * filter over 20,000 processes then costs one substring search each, not a string build.
 * A WeakMap, so the cache goes with the list it was made for.
 */
const HAYSTACKS = new WeakMap<ProcessInfo, string>()

/** protocols/processes.ts's matchesFilter with the haystack cached; `needle` is already filterNeedle()'d. */
export function matches (p: ProcessInfo, needle: string): boolean {
  if (needle === '') return true
  let hay = HAYSTACKS.get(p)
  if (hay === undefined) {
    hay = filterHaystack(p)
    HAYSTACKS.set(p, hay)
  }
  return hay.includes(needle)
}

function flatRow (peerId: string, hostName: string, p: ProcessInfo): ProcRow {
  return { peerId, hostName, proc: p, prefix: '', hasChildren: false, folded: false, subtreeCpu: p.cpuPercent, subtreeRss: p.rss, subtreeCount: 1 }
}

/**
 * A host's filtered rows and its filtered forest, kept per listing (the HostProcs object
 * a refresh replaces) for the last filter: changing the sort, reversing, folding or
 * leaving mesh-wide mode then re-sorts what exists instead of rebuilding 20,000 rows.
 */
const FLAT_CACHE = new WeakMap<HostProcs, { filter: string, rows: ProcRow[] }>()
const TREE_CACHE = new WeakMap<HostProcs, { filter: string, roots: ProcessNode[] }>()

function filteredRows (host: HostProcs, filter: string): ProcRow[] {
  const hit = FLAT_CACHE.get(host)
  if (hit !== undefined && hit.filter === filter) return hit.rows
  const needle = filterNeedle(filter)
  const kept = filter === '' ? host.processes : host.processes.filter(p => matches(p, needle))
  const rows = kept.map(p => flatRow(host.peerId, host.name, p))
  FLAT_CACHE.set(host, { filter, rows })
  return rows
}

function filteredForest (host: HostProcs, filter: string): ProcessNode[] {
  const hit = TREE_CACHE.get(host)
  if (hit !== undefined && hit.filter === filter) return hit.roots
  const needle = filterNeedle(filter)
  const roots = buildTree(filter === '' ? host.processes : withAncestors(host.processes, filter, p => matches(p, needle)))
  TREE_CACHE.set(host, { filter, roots })
  return roots
}

function hostRows (host: HostProcs, input: RowInputs): ProcRow[] {
  const { filter, sort, reverse } = input
  if (!input.tree) return filteredRows(host, filter)
  const folded = input.folded[host.peerId] ?? NO_FOLDS
  return flattenTree(filteredForest(host, filter), { folded, sort: { key: sort, reverse } }).map(r => ({
    peerId: host.peerId,
    hostName: host.name,
    proc: r.process,
    prefix: r.prefix,
    hasChildren: r.hasChildren,
    folded: r.folded,
    subtreeCpu: r.node.subtreeCpu,
    subtreeRss: r.node.subtreeRss,
    subtreeCount: r.node.subtreeCount
  }))
}

function compareHosts (a: ProcRow, b: ProcRow): number {
  return a.hostName < b.hostName ? -1 : a.hostName > b.hostName ? 1 : 0
}

/**
 * The flat list's order: exactly compareProcesses (cpu and mem descending, pid and name
 * ascending, pid breaking ties, all flipped by reverse), then the host name. Numeric keys
 * compare inline and names are lower-cased once per row rather than once per comparison:
 * sorting 20,000 rows is on the keypress path.
 */
export function sortFlat (rows: ProcRow[], key: SortKey, reverse: boolean): ProcRow[] {
  const sign = reverse ? -1 : 1
  if (key === 'name') {
    const keyed = rows.map(r => ({ r, k: r.proc.name.toLowerCase() }))
    const byName = compareProcesses('name', reverse)
    keyed.sort((a, b) => a.k !== b.k ? sign * (a.k < b.k ? -1 : 1) : byName(a.r.proc, b.r.proc) || compareHosts(a.r, b.r))
    return keyed.map(x => x.r)
  }
  // descending by value; pid sorts ascending, so its value is the negated pid
  const values = new Float64Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const p = rows[i].proc
    values[i] = key === 'cpu' ? p.cpuPercent : key === 'mem' ? p.rss : -p.pid
  }
  const order = Array.from(rows.keys())
  order.sort((i, j) => {
    const d = values[j] - values[i]
    if (d !== 0) return sign * d
    return sign * (rows[i].proc.pid - rows[j].proc.pid) || compareHosts(rows[i], rows[j])
  })
  return order.map(i => rows[i])
}

/**
 * A managed record as a process row: the listed process when it runs (with the record's name),
 * else what the record knows (its last pid and start time, no figures), so that a stopped,
 * exited or crash-looping process can still be selected, restarted and its logs read.
 */
export function managedProc (m: ManagedProcess, live: ProcessInfo | undefined): ProcessInfo {
  const name = m.name ?? undefined
  if (live !== undefined) return name !== undefined && live.managedName === undefined ? { ...live, managedName: name } : live
  const argv0 = m.argv[0] ?? ''
  return {
    pid: m.pid,
    ppid: 0,
    uid: -1,
    user: '',
    name: argv0.slice(argv0.lastIndexOf('/') + 1),
    cmd: m.argv.join(' '),
    state: '-',
    cpuPercent: m.cpuPercent ?? 0,
    rss: m.rss ?? 0,
    startTime: m.startTime,
    managedId: m.managedId,
    ...(name !== undefined ? { managedName: name } : {})
  }
}

/** One host's managed rows: from its `ls` answer, or (before one came, or from a node without `ls`) its listed managed processes. */
function managedRows (peerId: string, input: RowInputs): ProcRow[] {
  const host = input.procs[peerId]
  const list = input.managed[peerId]
  const needle = filterNeedle(input.filter)
  const keep = (p: ProcessInfo): boolean => needle === '' || matches(p, needle) || (p.managedName ?? '').toLowerCase().includes(needle)
  if (list === undefined || (list.error !== undefined && list.processes.length === 0)) {
    if (host === undefined) return []
    return host.processes.filter(p => p.managedId !== undefined && keep(p)).map(p => flatRow(peerId, host.name, p))
  }
  const live = new Map<string, ProcessInfo>()
  for (const p of host?.processes ?? []) if (p.managedId !== undefined) live.set(p.managedId, p)
  const rows: ProcRow[] = []
  for (const m of list.processes) {
    const running = live.get(m.managedId)
    const proc = managedProc(m, running !== undefined && running.pid === m.pid ? running : undefined)
    if (keep(proc)) rows.push({ ...flatRow(peerId, list.name, proc), managed: m })
  }
  return rows
}

/** Build the rows (not memoised): flat rows of several hosts sort together; trees stay per host. */
export function buildRows (input: RowInputs): ProcRow[] {
  if (input.managedOnly) return sortFlat(input.hostIds.flatMap(id => managedRows(id, input)), input.sort, input.reverse)
  const hosts = input.hostIds.map(id => input.procs[id]).filter((h): h is HostProcs => h !== undefined)
  const rows = hosts.flatMap(h => hostRows(h, input))
  return input.tree ? rows : sortFlat(rows, input.sort, input.reverse)
}

let memoInput: RowInputs | undefined
let memoRows: ProcRow[] = []

function sameInputs (a: RowInputs, b: RowInputs): boolean {
  return a.procs === b.procs && a.filter === b.filter && a.sort === b.sort && a.reverse === b.reverse &&
    a.tree === b.tree && a.folded === b.folded && a.managedOnly === b.managedOnly &&
    // `ls` answers arrive every interval: they rebuild the rows only in the managed view
    (!a.managedOnly || a.managed === b.managed) && a.hostIds.length === b.hostIds.length && a.hostIds.every((id, i) => id === b.hostIds[i])
}

/** buildRows with a one-entry memo: the state changes far more often than the rows do. */
export function selectRowsFor (input: RowInputs): ProcRow[] {
  if (memoInput !== undefined && sameInputs(memoInput, input)) return memoRows
  memoRows = buildRows(input)
  memoInput = input
  return memoRows
}

/** The parent chain of a process, nearest first, as far as the list knows it. */
export function parentChain (processes: readonly ProcessInfo[], pid: number, max = 32): ProcessInfo[] {
  const byPid = new Map<number, ProcessInfo>()
  for (const p of processes) byPid.set(p.pid, p)
  const out: ProcessInfo[] = []
  const seen = new Set<number>([pid])
  let cur = byPid.get(pid)
  while (cur !== undefined && out.length < max) {
    const parent = byPid.get(cur.ppid)
    if (parent === undefined || seen.has(parent.pid)) break
    seen.add(parent.pid)
    out.push(parent)
    cur = parent
  }
  return out
}
