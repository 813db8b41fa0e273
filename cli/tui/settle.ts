/**
 * The reducer's small tools (pure): clamping, scrolling, the status line, and `settle`, which
 * brings cursors, selections and scroll offsets back in line after any change.
 */
import type { Effect, State, Step } from './model.js'
import type { ProcRow } from './rows.js'
import { layoutOf, selectRows } from './selectors.js'

export function clamp (n: number, lo: number, hi: number): number {
  return hi < lo ? lo : Math.max(lo, Math.min(hi, n))
}

/** Scroll offset that keeps the cursor visible, moving as little as possible. */
export function scrollFor (cursor: number, scroll: number, visible: number, count: number): number {
  if (count <= visible) return 0
  let top = clamp(scroll, 0, count - visible)
  if (cursor < top) top = cursor
  if (cursor >= top + visible) top = cursor - visible + 1
  return clamp(top, 0, count - visible)
}

export function withStatus (s: State, text: string, level: 'info' | 'error' = 'info'): State {
  return { ...s, status: { text, level, at: s.now } }
}

export function done (state: State, effects: Effect[] = []): Step {
  return { state, effects }
}

/** Bring cursors, selections and scroll offsets back in line with the hosts and rows. */
export function settle (s: State): State {
  const lay = layoutOf(s)
  let hostCursor = s.hosts.findIndex(h => h.peerId === s.selectedHost)
  let selectedHost = s.selectedHost
  if (hostCursor < 0) {
    hostCursor = clamp(s.hostCursor, 0, s.hosts.length - 1)
    selectedHost = s.hosts[hostCursor]?.peerId ?? selectedHost
  }
  const hostScroll = scrollFor(hostCursor, s.hostScroll, lay.hostRows, s.hosts.length)
  const next: State = { ...s, hostCursor, selectedHost, hostScroll }
  const rows = selectRows(next)
  const sel = s.procSel
  let procCursor = sel !== undefined ? findRow(rows, sel.peerId, sel.pid, s.procCursor) : -1
  if (procCursor < 0) procCursor = clamp(s.procCursor, 0, rows.length - 1)
  const row = rows[procCursor]
  next.procCursor = procCursor
  next.procSel = row !== undefined ? { peerId: row.peerId, pid: row.proc.pid } : undefined
  next.procScroll = scrollFor(procCursor, s.procScroll, lay.procRows, rows.length)
  if (next.details?.logs !== undefined) {
    const logs = next.details.logs
    const maxScroll = Math.max(0, logs.lines.length - 1)
    if (logs.scroll > maxScroll) next.details = { ...next.details, logs: { ...logs, scroll: maxScroll } }
  }
  return next
}

/** Index of a process in the rows; the old index first, since the row rarely moves. */
function findRow (rows: readonly ProcRow[], peerId: string, pid: number, hint: number): number {
  const at = rows[hint]
  if (at !== undefined && at.proc.pid === pid && at.peerId === peerId) return hint
  return rows.findIndex(r => r.proc.pid === pid && r.peerId === peerId)
}
