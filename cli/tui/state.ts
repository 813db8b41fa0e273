/**
 * The state of `procmesh top` and its pure reducer. Every key and every piece of data
 * becomes an Action; `reduce` returns the next state and the effects (calls to the
 * node) the app must carry out. Destructive effects leave only through the
 * confirmation modal.
 */
import { SORT_KEYS } from '../../protocols/processes.js'
import type { PeerEntry } from '../../protocols/types.js'
import {
  SORT_LABELS, TRAIL_RANGES, TRAIL_RANGE_LABELS, TRAIL_WINDOW_MS, markKey, type Action, type ConnectionState, type CpuPoint, type Details, type Effect, type HostManaged, type HostProcs, type LogView,
  type Pane, type ProcRef, type State, type Step
} from './model.js'
import { reduceModal } from './modals.js'
import { managedNotices, withNotices, type Notice } from './notices.js'
import type { ProcRow } from './rows.js'
import { layoutOf, refOf, selectRows, selectedHostEntry, selectedRow } from './selectors.js'
import { clamp, done, settle, withStatus } from './settle.js'

export * from './model.js'
export * from './selectors.js'
export { exitWords, managedNotices, type Notice } from './notices.js'
export { passesModal } from './modals.js'
export { scrollFor, settle } from './settle.js'

/** Log lines kept for the details pane: a screenful many times over, bounded. */
export const MAX_LOG_LINES = 2000
/** Peer samples closer together than this add nothing to a 30 s bucket. */
const MIN_TRAIL_STEP_MS = 900

export interface InitOptions {
  now: number
  cols: number
  rows: number
  connection?: ConnectionState
  connectionNote?: string
  status?: string
}

export function initialState (opts: InitOptions): State {
  return {
    now: opts.now,
    size: { cols: opts.cols, rows: opts.rows },
    connection: opts.connection ?? 'connecting',
    connectionNote: opts.connectionNote ?? '',
    hosts: [],
    cpuTrail: {},
    trailRange: 'live',
    procs: {},
    managed: {},
    managedOnly: false,
    hostCursor: 0,
    hostScroll: 0,
    procCursor: 0,
    procScroll: 0,
    focus: 'procs',
    filter: '',
    sort: 'cpu',
    reverse: false,
    tree: false,
    folded: {},
    meshWide: false,
    marked: {},
    status: opts.status !== undefined ? { text: opts.status, level: 'info', at: opts.now } : undefined,
    quitting: false
  }
}

function orderHosts (peers: readonly PeerEntry[]): PeerEntry[] {
  return [...peers].sort((a, b) => {
    if (a.self !== b.self) return a.self ? -1 : 1
    const an = a.name.toLowerCase()
    const bn = b.name.toLowerCase()
    if (an !== bn) return an < bn ? -1 : 1
    return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0
  })
}

function trimTrail (points: readonly CpuPoint[], now: number): CpuPoint[] {
  const from = now - TRAIL_WINDOW_MS
  let i = 0
  while (i < points.length && points[i].at < from) i++
  return i === 0 ? [...points] : points.slice(i)
}

function addPeerSamples (trail: Readonly<Record<string, readonly CpuPoint[]>>, peers: readonly PeerEntry[], now: number): Record<string, readonly CpuPoint[]> {
  const out: Record<string, readonly CpuPoint[]> = {}
  for (const p of peers) {
    const old = trail[p.peerId] ?? []
    const last = old[old.length - 1]
    // a peer's lastSeen only moves when a new summary came: that is a new sample
    if (p.status !== 'offline' && (last === undefined || p.lastSeen >= last.at + MIN_TRAIL_STEP_MS)) {
      out[p.peerId] = trimTrail([...old, { at: p.lastSeen, cpu: p.host.cpuPercent }], now)
    } else {
      out[p.peerId] = old
    }
  }
  return out
}

function closeDetails (s: State): Step {
  if (s.details === undefined) return done(s)
  const effects: Effect[] = s.details.logs !== undefined ? [{ kind: 'stopLogs' }] : []
  return done(settle({ ...s, details: undefined, focus: s.focus === 'details' ? 'procs' : s.focus }), effects)
}

function openDetails (s: State, row: ProcRow, focusLogs: boolean): Step {
  const target = refOf(row)
  const effects: Effect[] = []
  if (s.details?.logs !== undefined) effects.push({ kind: 'stopLogs' })
  let logs: LogView | undefined
  if (target.managedId !== undefined) {
    logs = { peerId: target.peerId, managedId: target.managedId, lines: [], partial: '', scroll: 0 }
    effects.push({ kind: 'followLogs', peerId: target.peerId, hostName: target.hostName, managedId: target.managedId })
  }
  const details: Details = { target, snapshot: row.proc, gone: false, logs }
  return done(settle({ ...s, details, focus: focusLogs ? 'details' : s.focus }), effects)
}

function sameProcess (d: Details, row: ProcRow): boolean {
  return d.target.peerId === row.peerId && d.target.pid === row.proc.pid && d.target.startTime === row.proc.startTime
}

function appendLog (logs: LogView, data: string): LogView {
  const text = logs.partial + data.replace(/\r\n/g, '\n')
  const parts = text.split('\n')
  const partial = parts.pop() ?? ''
  if (parts.length === 0) return { ...logs, partial }
  const lines = logs.lines.concat(parts)
  const dropped = Math.max(0, lines.length - MAX_LOG_LINES)
  // a reader scrolled back keeps looking at the same lines while new ones arrive
  const scroll = logs.scroll > 0 ? logs.scroll + parts.length : 0
  return { ...logs, lines: dropped > 0 ? lines.slice(dropped) : lines, partial, scroll: Math.min(scroll, MAX_LOG_LINES - 1) }
}

/** What `k`, `l` and Enter act on: the details pane's process when it has the focus, else the cursor's. */
function currentTarget (s: State): ProcRow | undefined {
  if (s.focus === 'hosts') return undefined
  return selectedRow(s)
}

/** Why there is no process to act on. */
function noTargetReason (s: State): string {
  return s.focus === 'hosts' ? 'select a process first (Tab to the processes pane)' : 'no process selected: the list is empty'
}

// ---- the reducer ----

export function reduce (s: State, a: Action): Step {
  if (s.modal !== undefined) {
    const handled = reduceModal(s, s.modal, a)
    if (handled !== undefined) return handled
  }
  switch (a.type) {
    case 'peers': {
      const hosts = orderHosts(a.peers)
      const selectedHost = s.selectedHost !== undefined && hosts.some(h => h.peerId === s.selectedHost)
        ? s.selectedHost
        : (s.selectedHost === undefined ? (hosts.find(h => h.self) ?? hosts[0])?.peerId : undefined)
      return done(settle({ ...s, hosts, selectedHost, cpuTrail: addPeerSamples(s.cpuTrail, hosts, s.now) }))
    }
    case 'procs': {
      const only = a.only !== undefined ? new Set(a.only) : undefined
      const dropped = only !== undefined ? Object.keys(s.procs).filter(id => !only.has(id)) : []
      // nothing new and nobody left: keep the identity, so the rows are not rebuilt
      if (a.entries.length === 0 && dropped.length === 0) return done(s)
      const procs: Record<string, HostProcs> = { ...s.procs }
      for (const id of dropped) delete procs[id]
      for (const e of a.entries) {
        if ('error' in e) {
          const old = s.procs[e.peerId]
          procs[e.peerId] = { peerId: e.peerId, name: e.name, receivedAt: s.now, collectedAt: old?.collectedAt, processes: old?.processes ?? [], error: e.error }
        } else {
          procs[e.peerId] = { peerId: e.peerId, name: e.name, receivedAt: s.now, collectedAt: e.collectedAt, processes: e.processes }
        }
      }
      let details = s.details
      if (details !== undefined && procs[details.target.peerId] !== undefined && procs[details.target.peerId] !== s.procs[details.target.peerId]) {
        const host = procs[details.target.peerId]
        if (host.error === undefined) {
          const t = details.target
          const now = host.processes.find(p => p.pid === t.pid && p.startTime === t.startTime)
          details = now !== undefined ? { ...details, snapshot: now, gone: false } : { ...details, gone: true }
        }
      }
      return done(settle({ ...s, procs, details }))
    }
    case 'managed': {
      if (a.entries.length === 0) return done(s)
      const managed: Record<string, HostManaged> = { ...s.managed }
      const notices: Notice[] = []
      for (const e of a.entries) {
        const old = s.managed[e.peerId]
        if ('error' in e) {
          managed[e.peerId] = { peerId: e.peerId, name: e.name, receivedAt: s.now, processes: old?.processes ?? [], error: e.error }
          continue
        }
        if (old !== undefined) notices.push(...managedNotices(e.name, old.processes, e.processes, s.now))
        managed[e.peerId] = { peerId: e.peerId, name: e.name, receivedAt: s.now, processes: e.processes }
      }
      return done(withNotices(settle({ ...s, managed }), notices))
    }
    case 'rangeHistory': {
      // an answer for a range the user has already left is dropped
      if (a.range !== s.trailRange) return done(s)
      const hosts: Record<string, readonly CpuPoint[]> = s.rangeTrail?.range === a.range ? { ...s.rangeTrail.hosts } : {}
      for (const e of a.entries) hosts[e.peerId] = e.points
      return done({ ...s, rangeTrail: { range: a.range, hosts } })
    }
    case 'procHistory': {
      const d = s.details
      if (d === undefined || d.target.peerId !== a.peerId || d.target.pid !== a.pid || d.target.startTime !== a.startTime) return done(s)
      return done({ ...s, details: { ...d, history: { points: a.points, note: a.note } } })
    }
    case 'cycleRange': {
      const trailRange = TRAIL_RANGES[(TRAIL_RANGES.indexOf(s.trailRange) + 1) % TRAIL_RANGES.length]
      const text = trailRange === 'live'
        ? `CPU sparklines: live, the last ${TRAIL_RANGE_LABELS.live}`
        : `CPU sparklines: the last ${TRAIL_RANGE_LABELS[trailRange]}, from each host's recorded history`
      return done(withStatus({ ...s, trailRange }, text))
    }
    case 'history': {
      const cpuTrail: Record<string, readonly CpuPoint[]> = { ...s.cpuTrail }
      for (const { peerId, points } of a.entries) {
        const old = cpuTrail[peerId] ?? []
        const lastAt = points.length > 0 ? points[points.length - 1].at : -Infinity
        // the host's own ring, then the samples from gossip that are newer than it
        cpuTrail[peerId] = trimTrail([...points, ...old.filter(p => p.at > lastAt)], s.now)
      }
      return done({ ...s, cpuTrail })
    }
    case 'deployments':
      return done({ ...s, deployments: { receivedAt: s.now, list: a.list } })
    case 'deploymentsError':
      return done({ ...s, deployments: { receivedAt: s.deployments?.receivedAt ?? 0, list: s.deployments?.list ?? [], error: a.text } })
    case 'connection':
      return done({ ...s, connection: a.state, connectionNote: a.note ?? '' })
    case 'tick':
      return done({ ...s, now: a.now })
    case 'resize':
      return done(settle({ ...s, size: { cols: Math.max(1, a.cols), rows: Math.max(1, a.rows) } }))
    case 'logData': {
      const logs = s.details?.logs
      if (s.details === undefined || logs === undefined || logs.managedId !== a.managedId) return done(s)
      return done({ ...s, details: { ...s.details, logs: appendLog(logs, a.data) } })
    }
    case 'logEnd': {
      const logs = s.details?.logs
      if (s.details === undefined || logs === undefined || logs.managedId !== a.managedId) return done(s)
      return done({ ...s, details: { ...s.details, logs: { ...logs, ended: a.text, failed: a.failed } } })
    }
    case 'status':
      return done(withStatus(s, a.text, a.level))

    case 'move':
      return done(move(s, a.delta))
    case 'page': {
      const lay = layoutOf(s)
      const rows = s.focus === 'hosts' ? lay.hostRows : s.focus === 'details' ? lay.detailRows : lay.procRows
      return done(move(s, a.dir * Math.max(1, rows - 1)))
    }
    case 'jump':
      return done(move(s, a.to === 'first' ? -Infinity : Infinity))
    case 'focus': {
      const panes: Pane[] = s.details !== undefined ? ['hosts', 'procs', 'details'] : ['hosts', 'procs']
      const i = Math.max(0, panes.indexOf(s.focus))
      return done({ ...s, focus: panes[(i + a.dir + panes.length) % panes.length] })
    }
    case 'enter': {
      if (s.focus === 'hosts') return done({ ...s, focus: 'procs' })
      if (s.focus === 'details') return done(s)
      const row = selectedRow(s)
      if (row === undefined) return done(s)
      if (s.details !== undefined && sameProcess(s.details, row)) return closeDetails(s)
      return openDetails(s, row, false)
    }
    case 'back': {
      if (s.details !== undefined) return closeDetails(s)
      if (s.filter !== '') return done(withStatus(settle({ ...s, filter: '' }), 'filter cleared'))
      return done(s)
    }
    case 'openFilter':
      return done({ ...s, modal: { kind: 'filter', previous: s.filter } })
    case 'openSearch':
      return done({ ...s, focus: 'procs', modal: { kind: 'search', query: '', from: s.procSel, fromCursor: s.procCursor } })
    case 'nextSort': {
      const key = SORT_KEYS[(SORT_KEYS.indexOf(s.sort) + 1) % SORT_KEYS.length]
      return done(withStatus(settle({ ...s, sort: key, reverse: false }), `sorted by ${SORT_LABELS[key]}`))
    }
    case 'toggleTree':
      return done(withStatus(settle({ ...s, tree: !s.tree }), s.tree ? 'flat view' : 'tree view: +/- fold and unfold'))
    case 'fold':
      return done(fold(s, a.open))
    case 'sort': {
      const reverse = s.sort === a.key ? !s.reverse : false
      return done(withStatus(settle({ ...s, sort: a.key, reverse }), `sorted by ${SORT_LABELS[a.key]}${reverse ? ' (reversed)' : ''}`))
    }
    case 'reverse':
      return done(withStatus(settle({ ...s, reverse: !s.reverse }), `sorted by ${SORT_LABELS[s.sort]}${!s.reverse ? ' (reversed)' : ''}`))
    case 'toggleMark': {
      const row = currentTarget(s)
      if (row === undefined || s.focus !== 'procs') return done(withStatus(s, noTargetReason(s), 'error'))
      const ref = refOf(row)
      const key = markKey(ref)
      const marked = { ...s.marked }
      if (marked[key] !== undefined) delete marked[key]
      else marked[key] = ref
      const n = Object.keys(marked).length
      return done(withStatus(move({ ...s, marked }, 1), n > 0 ? `${n} marked: k stops them all after one confirmation, V clears` : 'no process marked'))
    }
    case 'clearMarks':
      return done(withStatus({ ...s, marked: {} }, 'marks cleared'))
    case 'askStop': {
      const marks = Object.values(s.marked)
      if (marks.length > 0 && s.focus !== 'details') {
        return done({ ...s, modal: { kind: 'signal', target: marks[0], index: 0, tree: false, others: marks.slice(1) } })
      }
      const row = s.focus === 'details' ? undefined : currentTarget(s)
      // a managed record that is not running has no process to signal (its pid is the last one it had)
      if (row?.managed !== undefined && row.managed.state !== 'running') {
        return done(withStatus(s, `${row.proc.managedName ?? row.proc.managedId ?? row.proc.name} is not running (${row.managed.state}): nothing to stop; R restarts it`, 'error'))
      }
      const target = s.focus === 'details' && s.details !== undefined ? s.details.target : undefinedRef(row)
      if (target === undefined) return done(withStatus(s, noTargetReason(s), 'error'))
      return done({ ...s, modal: { kind: 'signal', target, index: 0, tree: false } })
    }
    case 'askStart': {
      const host = selectedHostEntry(s)
      if (host === undefined) return done(withStatus(s, 'no host selected', 'error'))
      if (host.status === 'offline') return done(withStatus(s, `${host.name} is offline: cannot start a process there`, 'error'))
      return done({ ...s, modal: { kind: 'start', peerId: host.peerId, hostName: host.name, draft: '' } })
    }
    case 'logs': {
      const row = currentTarget(s)
      if (s.focus === 'details' && s.details?.logs !== undefined) return done(s)
      if (row === undefined) return done(withStatus(s, noTargetReason(s), 'error'))
      if (row.proc.managedId === undefined) {
        return done(withStatus(s, `${row.proc.name} (pid ${row.proc.pid}) was not started through procmesh: only managed processes keep logs`, 'error'))
      }
      if (s.details !== undefined && sameProcess(s.details, row) && s.details.logs !== undefined) return done({ ...s, focus: 'details' })
      return openDetails(s, row, true)
    }
    case 'restart': {
      const row = currentTarget(s)
      if (row === undefined) return done(withStatus(s, noTargetReason(s), 'error'))
      if (row.proc.managedId === undefined) {
        return done(withStatus(s, `${row.proc.name} (pid ${row.proc.pid}) was not started through procmesh: only managed processes can be restarted`, 'error'))
      }
      const running = row.managed === undefined || row.managed.state === 'running'
      return done({ ...s, modal: { kind: 'confirmRestart', peerId: row.peerId, hostName: row.hostName, managedId: row.proc.managedId, name: row.proc.managedName ?? row.proc.name, running } })
    }
    case 'toggleManaged': {
      const managedOnly = !s.managedOnly
      return done(withStatus(settle({ ...s, managedOnly, procCursor: 0, procScroll: 0, procSel: undefined }),
        managedOnly ? 'managed processes only (started through procmesh): state and restarts shown; M again lists all' : 'all processes'))
    }
    case 'toggleMeshWide': {
      const meshWide = !s.meshWide
      const host = selectedHostEntry(s)
      return done(withStatus(settle({ ...s, meshWide }), meshWide ? 'mesh-wide: the processes of every host' : `processes of ${host?.name ?? 'the selected host'}`))
    }
    case 'openDeployments':
      return done({ ...s, modal: { kind: 'deployments', scroll: 0 } })
    case 'toggleHelp':
      return done({ ...s, modal: { kind: 'help', scroll: 0 } })
    case 'quit':
      return done({ ...s, quitting: true }, [{ kind: 'quit' }])

    // modal actions outside their modal do nothing (reduceModal handled them when one was open)
    case 'inputChar':
    case 'inputErase':
    case 'searchNext':
    case 'submit':
    case 'cancel':
    case 'pick':
    case 'pickIndex':
    case 'toggleSubtree':
    case 'confirm':
      return done(s)
  }
}

function undefinedRef (row: ProcRow | undefined): ProcRef | undefined {
  return row !== undefined ? refOf(row) : undefined
}

function move (s: State, delta: number): State {
  if (s.focus === 'hosts') {
    if (s.hosts.length === 0) return s
    const hostCursor = clamp(s.hostCursor + delta, 0, s.hosts.length - 1)
    const selectedHost = s.hosts[hostCursor].peerId
    if (selectedHost === s.selectedHost) return s
    // a new host's list starts at its top; mesh-wide keeps its place
    const reset = s.meshWide ? {} : { procCursor: 0, procScroll: 0, procSel: undefined }
    return settle({ ...s, hostCursor, selectedHost, ...reset })
  }
  if (s.focus === 'details') {
    const logs = s.details?.logs
    if (s.details === undefined || logs === undefined) return s
    const scroll = clamp(logs.scroll - delta, 0, Math.max(0, logs.lines.length - 1))
    return { ...s, details: { ...s.details, logs: { ...logs, scroll } } }
  }
  const rows = selectRows(s)
  if (rows.length === 0) return s
  const procCursor = clamp(s.procCursor + delta, 0, rows.length - 1)
  const row = rows[procCursor]
  return settle({ ...s, procCursor, procSel: { peerId: row.peerId, pid: row.proc.pid } })
}

function fold (s: State, open: boolean): State {
  if (!s.tree) return withStatus(s, 'folding needs the tree view: press t', 'error')
  const rows = selectRows(s)
  const row = rows[s.procCursor]
  if (row === undefined) return s
  const set = new Set(s.folded[row.peerId] ?? [])
  if (open) {
    if (!row.folded) return s
    set.delete(row.proc.pid)
    return settle({ ...s, folded: { ...s.folded, [row.peerId]: set } })
  }
  if (row.hasChildren && !row.folded) {
    set.add(row.proc.pid)
    return settle({ ...s, folded: { ...s.folded, [row.peerId]: set } })
  }
  // on a leaf (or a folded node) `-` folds the parent and moves there, as in a file tree
  const parent = rows.find(r => r.peerId === row.peerId && r.proc.pid === row.proc.ppid && r.hasChildren)
  if (parent === undefined) return s
  set.add(parent.proc.pid)
  return settle({ ...s, folded: { ...s.folded, [row.peerId]: set }, procSel: { peerId: parent.peerId, pid: parent.proc.pid } })
}
