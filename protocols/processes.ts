/**
 * The rules over process lists that every view shares: which processes a filter
 * keeps, the sort orders, and the tree (a forest from flat rows, subtree totals,
 * flattened into display rows with folding and sibling sort). One pure module used
 * by the node (list pre-filter), `procmesh ps`, the TUI and the web dashboard, so
 * they cannot drift apart.
 */
import type { ProcessInfo } from './types.js'
import { isOneOf } from './validate.js'

/**
 * The text a filter searches: name, command line and user, lower-cased. NUL separates
 * the fields (it cannot be typed into a filter), so a needle never matches across two.
 * Views that filter on every keypress cache this per process.
 */
export function filterHaystack (p: ProcessInfo): string {
  return `${p.name}\u0000${p.cmd}\u0000${p.user}`.toLowerCase()
}

/** A filter as typed, in the form haystacks are searched with. */
export function filterNeedle (filter: string): string {
  return filter.toLowerCase()
}

/** The process filter: a case-insensitive substring of the name, the command line or the user; empty matches everything. */
export function matchesFilter (p: ProcessInfo, filter: string | undefined): boolean {
  if (filter === undefined || filter === '') return true
  return filterHaystack(p).includes(filterNeedle(filter))
}

export function filterProcesses (processes: readonly ProcessInfo[], filter: string | undefined): ProcessInfo[] {
  return filter === undefined || filter === '' ? [...processes] : processes.filter(p => matchesFilter(p, filter))
}

/**
 * The processes a filter keeps plus every ancestor of each, so a filtered tree still
 * shows where the matches sit. `matches` defaults to matchesFilter (the TUI passes its cached test).
 */
export function withAncestors (processes: readonly ProcessInfo[], filter: string, matches: (p: ProcessInfo) => boolean = p => matchesFilter(p, filter)): ProcessInfo[] {
  const byPid = new Map<number, ProcessInfo>()
  for (const p of processes) if (!byPid.has(p.pid)) byPid.set(p.pid, p)
  const keep = new Set<number>()
  for (const p of processes) {
    if (!matches(p)) continue
    let cur: ProcessInfo | undefined = p
    // the keep check stops the walk at a kept ancestor and at a parent cycle
    while (cur !== undefined && !keep.has(cur.pid)) {
      keep.add(cur.pid)
      cur = cur.ppid !== cur.pid ? byPid.get(cur.ppid) : undefined
    }
  }
  return processes.filter(p => keep.has(p.pid))
}

export type SortKey = 'cpu' | 'mem' | 'pid' | 'name'
export const SORT_KEYS: readonly SortKey[] = ['cpu', 'mem', 'pid', 'name']

/** A sort: `cpu` and `mem` run descending, `pid` and `name` ascending; `reverse` flips that. */
export interface SortSpec {
  key: SortKey
  reverse?: boolean
}

export function isSortKey (value: unknown): value is SortKey {
  return isOneOf(value, SORT_KEYS)
}

export interface ProcessNode {
  process: ProcessInfo
  children: ProcessNode[]
  /** 0 for a root */
  depth: number
  /** CPU% of the process and all its descendants */
  subtreeCpu: number
  /** RSS (bytes) of the process and all its descendants */
  subtreeRss: number
  /** processes in the subtree, the process itself included */
  subtreeCount: number
}

export interface TreeRow {
  node: ProcessNode
  process: ProcessInfo
  depth: number
  /** box-drawing prefix: `│ ` / `  ` per ancestor level, then `├─` or `└─`; empty for roots */
  prefix: string
  hasChildren: boolean
  /** has children that are hidden because the node is folded */
  folded: boolean
}

export interface FlattenOptions {
  /** pids whose children are hidden */
  folded?: ReadonlySet<number>
  /** order among siblings (roots included); input order when absent */
  sort?: SortSpec
  /** order among siblings by a table column (compareColumn); wins over `sort` */
  compare?: Comparator<ProcessNode>
}

export type Comparator<T> = (a: T, b: T) => number

function compareText (a: string, b: string): number {
  const la = a.toLowerCase()
  const lb = b.toLowerCase()
  if (la !== lb) return la < lb ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/** Compare by one key in its natural direction, pid ascending as the tie-break so order is stable. */
function byKey<T> (key: SortKey, reverse: boolean, cpu: (x: T) => number, mem: (x: T) => number, proc: (x: T) => ProcessInfo): Comparator<T> {
  const base: Comparator<T> = (a, b) => {
    const pa = proc(a)
    const pb = proc(b)
    let d = 0
    if (key === 'cpu') d = cpu(b) - cpu(a)
    else if (key === 'mem') d = mem(b) - mem(a)
    else if (key === 'name') d = compareText(pa.name, pb.name)
    return d !== 0 ? d : pa.pid - pb.pid
  }
  return reverse ? (a, b) => base(b, a) : base
}

/** Comparator of processes: cpu/mem descending, pid/name ascending (flipped by `reverse`). */
export function compareProcesses (key: SortKey, reverse = false): Comparator<ProcessInfo> {
  return byKey<ProcessInfo>(key, reverse, p => p.cpuPercent, p => p.rss, p => p)
}

/**
 * Comparator of tree nodes. cpu and mem compare subtree totals, so the heaviest
 * branch comes first even when its weight is in the children.
 */
export function compareNodes (key: SortKey, reverse = false): Comparator<ProcessNode> {
  return byKey<ProcessNode>(key, reverse, n => n.subtreeCpu, n => n.subtreeRss, n => n.process)
}

/**
 * The columns a process table sorts by (the web dashboard's headers): the sort keys,
 * plus user, state, start time and the subtree totals. Here `cpu` and `mem` are the
 * process's own figures and `scpu` / `smem` its subtree's, as the table shows both.
 */
export type ColumnKey = SortKey | 'user' | 'state' | 'start' | 'scpu' | 'smem'
export const COLUMN_KEYS: readonly ColumnKey[] = ['name', 'pid', 'user', 'cpu', 'mem', 'scpu', 'smem', 'state', 'start']

export function isColumnKey (value: unknown): value is ColumnKey {
  return isOneOf(value, COLUMN_KEYS)
}

/** Columns that measure load run descending by default; names and times ascending. */
export function columnDescends (key: ColumnKey): boolean {
  return key === 'cpu' || key === 'mem' || key === 'scpu' || key === 'smem'
}

/** A row a table sorts: a process, with its subtree totals when it is a tree node (a flat row counts as its own subtree). */
export interface ColumnRow { process: ProcessInfo, subtreeCpu?: number, subtreeRss?: number }

/** Comparator of table rows by a column in its natural direction, pid ascending breaking ties; `reverse` flips the whole order. */
export function compareColumn<T extends ColumnRow> (key: ColumnKey, reverse = false): Comparator<T> {
  const base: Comparator<T> = (a, b) => {
    const pa = a.process
    const pb = b.process
    let d = 0
    if (key === 'cpu') d = pb.cpuPercent - pa.cpuPercent
    else if (key === 'mem') d = pb.rss - pa.rss
    else if (key === 'scpu') d = (b.subtreeCpu ?? pb.cpuPercent) - (a.subtreeCpu ?? pa.cpuPercent)
    else if (key === 'smem') d = (b.subtreeRss ?? pb.rss) - (a.subtreeRss ?? pa.rss)
    else if (key === 'name') d = compareText(pa.name, pb.name)
    else if (key === 'user') d = compareText(pa.user, pb.user)
    else if (key === 'state') d = compareText(pa.state, pb.state)
    else if (key === 'start') d = pa.startTime - pb.startTime
    return d !== 0 ? d : pa.pid - pb.pid
  }
  return reverse ? (a, b) => base(b, a) : base
}

/**
 * Build the forest. A process whose ppid is not in the list (or is itself) is a
 * root; a parent cycle (possible in a list sampled while pids were reused) is cut
 * at its lowest pid, which becomes a root. A repeated pid keeps its first row.
 * Roots and children keep input order; flattenTree sorts.
 */
export function buildTree (processes: readonly ProcessInfo[]): ProcessNode[] {
  const byPid = new Map<number, ProcessNode>()
  const order: ProcessNode[] = []
  for (const p of processes) {
    if (byPid.has(p.pid)) continue
    const node: ProcessNode = { process: p, children: [], depth: 0, subtreeCpu: 0, subtreeRss: 0, subtreeCount: 0 }
    byPid.set(p.pid, node)
    order.push(node)
  }

  const parentOf = new Map<number, number>()
  for (const node of order) {
    const { pid, ppid } = node.process
    if (ppid !== pid && byPid.has(ppid)) parentOf.set(pid, ppid)
  }

  // walk up from every node; meeting a node of the current walk again is a cycle
  const DONE = 2
  const WALKING = 1
  const state = new Map<number, number>()
  for (const node of order) {
    const path: number[] = []
    let cur: number | undefined = node.process.pid
    while (cur !== undefined && state.get(cur) === undefined) {
      state.set(cur, WALKING)
      path.push(cur)
      cur = parentOf.get(cur)
    }
    if (cur !== undefined && state.get(cur) === WALKING) {
      const cycle = path.slice(path.indexOf(cur))
      parentOf.delete(Math.min(...cycle))
    }
    for (const pid of path) state.set(pid, DONE)
  }

  const roots: ProcessNode[] = []
  for (const node of order) {
    const parent = parentOf.get(node.process.pid)
    if (parent === undefined) roots.push(node)
    else byPid.get(parent)?.children.push(node)
  }

  // depth top-down, totals bottom-up; iterative so a deep chain cannot overflow the stack
  const visit: ProcessNode[] = []
  const stack = [...roots]
  while (stack.length > 0) {
    const node = stack.pop() as ProcessNode
    visit.push(node)
    for (const child of node.children) {
      child.depth = node.depth + 1
      stack.push(child)
    }
  }
  for (let i = visit.length - 1; i >= 0; i--) {
    const node = visit[i]
    node.subtreeCpu = node.process.cpuPercent
    node.subtreeRss = node.process.rss
    node.subtreeCount = 1
    for (const child of node.children) {
      node.subtreeCpu += child.subtreeCpu
      node.subtreeRss += child.subtreeRss
      node.subtreeCount += child.subtreeCount
    }
  }
  return roots
}

/** Display rows in depth-first order; children of folded pids are left out. */
export function flattenTree (roots: readonly ProcessNode[], options: FlattenOptions = {}): TreeRow[] {
  const folded = options.folded ?? new Set<number>()
  const cmp = options.compare ?? (options.sort !== undefined ? compareNodes(options.sort.key, options.sort.reverse === true) : undefined)
  const arrange = (nodes: readonly ProcessNode[]): ProcessNode[] => cmp !== undefined ? [...nodes].sort(cmp) : [...nodes]

  const rows: TreeRow[] = []
  // each frame: a node, the continuation prefix of its ancestors, whether it is the last sibling
  const stack: Array<{ node: ProcessNode, lead: string, last: boolean, root: boolean }> = []
  const push = (nodes: ProcessNode[], lead: string, root: boolean): void => {
    for (let i = nodes.length - 1; i >= 0; i--) stack.push({ node: nodes[i], lead, last: i === nodes.length - 1, root })
  }
  push(arrange(roots), '', true)
  while (stack.length > 0) {
    const { node, lead, last, root } = stack.pop() as { node: ProcessNode, lead: string, last: boolean, root: boolean }
    const hasChildren = node.children.length > 0
    const isFolded = hasChildren && folded.has(node.process.pid)
    rows.push({
      node,
      process: node.process,
      depth: node.depth,
      prefix: root ? '' : lead + (last ? '└─' : '├─'),
      hasChildren,
      folded: isFolded
    })
    if (hasChildren && !isFolded) push(arrange(node.children), root ? '' : lead + (last ? '  ' : '│ '), false)
  }
  return rows
}

/** Every pid of a subtree, the root first (e.g. to show what `kill --tree` would reach). */
export function subtreePids (node: ProcessNode): number[] {
  const out: number[] = []
  const stack = [node]
  while (stack.length > 0) {
    const n = stack.pop() as ProcessNode
    out.push(n.process.pid)
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i])
  }
  return out
}
