/**
 * Derived views of the TUI state (pure): the layout, the listed hosts and rows, the
 * selection, what the data source should list. The reducer and the drawing both use them.
 */
import type { DeploymentStatus } from '../../protocols/deploy.js'
import type { ListTop } from '../../protocols/messages.js'
import type { PeerEntry } from '../../protocols/types.js'
import { computeLayout, type Layout } from './layout.js'
import { PROC_HISTORY_MS, TRAIL_RANGE_MS, type ProcRef, type State, type TrailRange } from './model.js'
import { selectRowsFor, type ProcRow } from './rows.js'

export function layoutOf (s: State): Layout {
  return computeLayout(s.size.cols, s.size.rows, s.hosts.length, s.details !== undefined)
}

/** The hosts whose processes the pane lists. */
export function listedHostIds (s: State): string[] {
  if (s.meshWide) {
    const ids = s.hosts.map(h => h.peerId)
    for (const id of Object.keys(s.procs)) if (!ids.includes(id)) ids.push(id)
    return ids
  }
  return s.selectedHost !== undefined ? [s.selectedHost] : []
}

export function selectRows (s: State): ProcRow[] {
  return selectRowsFor({
    procs: s.procs,
    hostIds: listedHostIds(s),
    filter: s.filter,
    sort: s.sort,
    reverse: s.reverse,
    tree: s.tree,
    folded: s.folded,
    managedOnly: s.managedOnly,
    managed: s.managed
  })
}

export function selectedHostEntry (s: State): PeerEntry | undefined {
  return s.hosts.find(h => h.peerId === s.selectedHost)
}

export function selectedRow (s: State): ProcRow | undefined {
  return selectRows(s)[s.procCursor]
}

/** What the data source should list: the selected host, or every host in mesh-wide mode. */
export function psTarget (s: State): string | undefined {
  if (s.meshWide) return 'all'
  return s.selectedHost
}

/** Processes asked of each host in mesh-wide mode: more than any screen shows. */
export const MESH_WIDE_TOP_N = 200

/**
 * Mesh-wide, flat and sorted by CPU or memory, the screen shows the busiest processes of all
 * hosts: each host is asked for its first MESH_WIDE_TOP_N by that key, not for everything.
 * The tree, other sort keys, a reversed order and the managed view need every process.
 */
export function psTop (s: State): ListTop | undefined {
  // the managed view must see every managed process, busy or not
  if (!s.meshWide || s.managedOnly || s.tree || s.reverse || (s.sort !== 'cpu' && s.sort !== 'mem')) return undefined
  return { by: s.sort, n: MESH_WIDE_TOP_N }
}

export function refOf (row: ProcRow): ProcRef {
  const p = row.proc
  return { peerId: row.peerId, hostName: row.hostName, pid: p.pid, startTime: p.startTime, name: p.name, cmd: p.cmd, managedId: p.managedId }
}

/** The range the data source should fetch for the sparklines; undefined for the live trail. */
export function trailRangeQuery (s: State): { range: TrailRange, ms: number } | undefined {
  return s.trailRange === 'live' ? undefined : { range: s.trailRange, ms: TRAIL_RANGE_MS[s.trailRange] }
}

/** The process whose own history the details pane shows, and the time it covers. */
export interface ProcHistoryTarget { peerId: string, pid: number, startTime: number, ms: number }

export function procHistoryTarget (s: State): ProcHistoryTarget | undefined {
  const t = s.details?.target
  return t !== undefined ? { peerId: t.peerId, pid: t.pid, startTime: t.startTime, ms: PROC_HISTORY_MS } : undefined
}

/** Whether the data source should poll `deployments`: only while the overlay shows them. */
export function deploymentsWanted (s: Pick<State, 'modal'>): boolean {
  return s.modal?.kind === 'deployments'
}

/** Lines the deployments overlay lists: one per deployment, then one per reason its replicas cannot be placed. */
export function deploymentLineCount (list: readonly DeploymentStatus[]): number {
  return list.reduce((n, d) => n + 1 + d.problems.length, 0)
}
