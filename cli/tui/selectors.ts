/**
 * Derived views of the TUI state (pure): the layout, the listed hosts and rows, the
 * selection, what the data source should list. The reducer and the drawing both use them.
 */
import type { PeerEntry } from '../../protocols/types.js'
import { computeLayout, type Layout } from './layout.js'
import type { ProcRef, State } from './model.js'
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
    folded: s.folded
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

export function refOf (row: ProcRow): ProcRef {
  const p = row.proc
  return { peerId: row.peerId, hostName: row.hostName, pid: p.pid, startTime: p.startTime, name: p.name, cmd: p.cmd, managedId: p.managedId }
}
