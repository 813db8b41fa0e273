/**
 * The rows of the processes pane, derived from the state: filter, sort, tree or flat,
 * folding, one host or the whole mesh. Pure, and memoised on the inputs that change
 * them, so moving the cursor over 20,000 rows never rebuilds the list.
 */
import type { ProcessInfo } from '../../protocols/types.js'
import { buildTree, compareProcesses, flattenTree, type SortKey } from '../process-tree.js'
import { matchesFilter } from '../process-view.js'
import type { HostProcs } from './state.js'

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
}

const NO_FOLDS: ReadonlySet<number> = new Set()

/** Matches and every ancestor of a match, so a filtered tree still shows where matches sit. */
function withAncestors (processes: readonly ProcessInfo[], filter: string): ProcessInfo[] {
  const byPid = new Map<number, ProcessInfo>()
  for (const p of processes) if (!byPid.has(p.pid)) byPid.set(p.pid, p)
  const keep = new Set<number>()
  for (const p of processes) {
    if (!matchesFilter(p, filter)) continue
    let cur: ProcessInfo | undefined = p
    // the keep check stops the walk at a kept ancestor and at a parent cycle
    while (cur !== undefined && !keep.has(cur.pid)) {
      keep.add(cur.pid)
      cur = cur.ppid !== cur.pid ? byPid.get(cur.ppid) : undefined
    }
  }
  return processes.filter(p => keep.has(p.pid))
}

function flatRow (peerId: string, hostName: string, p: ProcessInfo): ProcRow {
  return { peerId, hostName, proc: p, prefix: '', hasChildren: false, folded: false, subtreeCpu: p.cpuPercent, subtreeRss: p.rss, subtreeCount: 1 }
}

function hostRows (host: HostProcs, input: RowInputs): ProcRow[] {
  const { filter, sort, reverse } = input
  if (!input.tree) {
    const kept = filter === '' ? host.processes : host.processes.filter(p => matchesFilter(p, filter))
    return kept.map(p => flatRow(host.peerId, host.name, p))
  }
  const shown = filter === '' ? host.processes : withAncestors(host.processes, filter)
  const folded = input.folded[host.peerId] ?? NO_FOLDS
  return flattenTree(buildTree(shown), { folded, sort: { key: sort, reverse } }).map(r => ({
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

/** Build the rows (not memoised): flat rows of several hosts sort together; trees stay per host. */
export function buildRows (input: RowInputs): ProcRow[] {
  const hosts = input.hostIds.map(id => input.procs[id]).filter((h): h is HostProcs => h !== undefined)
  const rows = hosts.flatMap(h => hostRows(h, input))
  if (!input.tree) {
    const cmp = compareProcesses(input.sort, input.reverse)
    rows.sort((a, b) => cmp(a.proc, b.proc) || (a.hostName < b.hostName ? -1 : a.hostName > b.hostName ? 1 : 0))
  }
  return rows
}

let memoInput: RowInputs | undefined
let memoRows: ProcRow[] = []

function sameInputs (a: RowInputs, b: RowInputs): boolean {
  return a.procs === b.procs && a.filter === b.filter && a.sort === b.sort && a.reverse === b.reverse &&
    a.tree === b.tree && a.folded === b.folded && a.hostIds.length === b.hostIds.length && a.hostIds.every((id, i) => id === b.hostIds[i])
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
