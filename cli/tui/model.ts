/**
 * The model of `procmesh top`: its state, the actions that change it and the effects
 * it asks of the app. Types and constants only, so the keymap, the rows, the layout,
 * the reducer and the views can all depend on it without depending on each other.
 */
import type { LsEntry, PeerError, PsEntry } from '../../protocols/control.js'
import type { DeploymentStatus } from '../../protocols/deploy.js'
import type { ManagedProcess } from '../../protocols/managed.js'
import type { SignalName } from '../../protocols/messages.js'
import type { SortKey } from '../../protocols/processes.js'
import type { PeerEntry, ProcessInfo } from '../../protocols/types.js'

export type Pane = 'hosts' | 'procs' | 'details'
/** `starting`: top started a node and waits for it; `down`: the node went away and we reconnect. */
export type ConnectionState = 'connecting' | 'starting' | 'up' | 'down'

/** The latest `ps` answer for one host. An error keeps the processes seen before it. */
export interface HostProcs {
  peerId: string
  name: string
  receivedAt: number
  collectedAt?: number
  processes: ProcessInfo[]
  error?: PeerError
}

/** The latest `ls` answer for one host: its managed processes (all states). An error keeps the list seen before it. */
export interface HostManaged {
  peerId: string
  name: string
  receivedAt: number
  processes: ManagedProcess[]
  error?: PeerError
}

/** A process as the user saw it: a stop names exactly this pid and start time. */
export interface ProcRef {
  peerId: string
  hostName: string
  pid: number
  startTime: number
  name: string
  cmd: string
  managedId?: string
}

export interface CpuPoint { at: number, cpu: number }

/** A process's recorded past: CPU and RSS where it was among the top processes of its host. */
export interface ProcPoint { at: number, cpu: number, rss: number }

/** What the hosts pane's sparklines cover: the live trail, or a range of each host's durable history. */
export type TrailRange = 'live' | '1h' | '24h' | '7d'
export const TRAIL_RANGES: readonly TrailRange[] = ['live', '1h', '24h', '7d']

export type Modal =
  /** `scroll`: first line shown, when the help is taller than the terminal */
  | { kind: 'help', scroll: number }
  /** the filter applies as it is typed; Esc restores `previous` */
  | { kind: 'filter', previous: string }
  /** htop's F3: the cursor moves to a match as the query is typed; Esc goes back to `from` */
  | { kind: 'search', query: string, from?: { peerId: string, pid: number }, fromCursor: number, failed?: boolean }
  /** `others`: the rest of a marked selection, stopped with `target` after one confirmation */
  | { kind: 'signal', target: ProcRef, index: number, tree: boolean, others?: readonly ProcRef[] }
  | { kind: 'confirm', target: ProcRef, signal: SignalName, tree: boolean, others?: readonly ProcRef[] }
  /** restart stops a running process first: asked like a stop */
  | { kind: 'confirmRestart', peerId: string, hostName: string, managedId: string, name: string, running: boolean }
  /** the deployments overlay (`D`): desired vs running per deployment, polled while open; `scroll`: first line shown */
  | { kind: 'deployments', scroll: number }
  /** `warned`: the draft has shell operators and the user was told they pass literally */
  | { kind: 'start', peerId: string, hostName: string, draft: string, error?: string, warned?: boolean }

export interface LogView {
  peerId: string
  managedId: string
  lines: string[]
  /** the unterminated last line */
  partial: string
  /** lines up from the bottom; 0 follows new output */
  scroll: number
  ended?: string
  failed?: boolean
}

export interface Details {
  target: ProcRef
  /** its CPU and RSS over the last PROC_HISTORY_MS, from its host's history; `note` says why there is none */
  history?: { points: readonly ProcPoint[], note?: string }
  /** the process as last listed; `gone` once a listing of its host no longer has it */
  snapshot: ProcessInfo
  gone: boolean
  logs?: LogView
}

/** The node's last `deployments` answer, or why there is none (the list seen before an error is kept). */
export interface DeploymentsView {
  receivedAt: number
  list: readonly DeploymentStatus[]
  error?: string
}

export interface StatusLine { text: string, level: 'info' | 'error', at: number }

export interface State {
  now: number
  size: { cols: number, rows: number }
  connection: ConnectionState
  /** what the connection is doing, for the header ("node restarting… retry in 2s") */
  connectionNote: string
  /** self first, then by name */
  hosts: PeerEntry[]
  cpuTrail: Readonly<Record<string, readonly CpuPoint[]>>
  trailRange: TrailRange
  /** the hosts' CPU over `range` (not live), downsampled by each host to the sparkline's width */
  rangeTrail?: { range: TrailRange, hosts: Readonly<Record<string, readonly CpuPoint[]>> }
  procs: Readonly<Record<string, HostProcs>>
  /** managed processes per host, from `ls` (every host, for the exit notices) */
  managed: Readonly<Record<string, HostManaged>>
  /** the processes pane lists managed processes only, with their state and restarts */
  managedOnly: boolean
  selectedHost?: string
  hostCursor: number
  hostScroll: number
  procCursor: number
  procScroll: number
  /** the selected process: the cursor follows it when rows move under it */
  procSel?: { peerId: string, pid: number }
  focus: Pane
  filter: string
  sort: SortKey
  reverse: boolean
  tree: boolean
  folded: Readonly<Record<string, ReadonlySet<number>>>
  meshWide: boolean
  /** processes marked for one stop (`v`), by markKey; a stop acts on all of them */
  marked: Readonly<Record<string, ProcRef>>
  modal?: Modal
  /** filled while the deployments overlay is open (and kept after, until it opens again) */
  deployments?: DeploymentsView
  details?: Details
  status?: StatusLine
  quitting: boolean
}

export type Effect =
  | { kind: 'kill', target: ProcRef, signal: SignalName, tree: boolean }
  | { kind: 'run', peerId: string, hostName: string, argv: string[] }
  | { kind: 'followLogs', peerId: string, hostName: string, managedId: string }
  /** restart a managed process (procmesh restart): stop it, start it again with the same id */
  | { kind: 'restart', peerId: string, hostName: string, managedId: string, name: string }
  | { kind: 'stopLogs' }
  | { kind: 'quit' }

export type Action =
  // ---- from the data source and the terminal ----
  | { type: 'peers', peers: PeerEntry[] }
  /** `only`: the hosts a fan-out ps answered for; the processes of any other host are dropped */
  | { type: 'procs', entries: PsEntry[], only?: readonly string[] }
  /** `ls` answers: the managed processes of hosts, compared with the last to tell exits and crash loops */
  | { type: 'managed', entries: LsEntry[] }
  /** a range of each host's durable history for the sparklines (not live) */
  | { type: 'rangeHistory', range: TrailRange, entries: ReadonlyArray<{ peerId: string, points: readonly CpuPoint[] }> }
  /** the details' process's own history, or why there is none */
  | { type: 'procHistory', peerId: string, pid: number, startTime: number, points: readonly ProcPoint[], note?: string }
  /** CPU history per host, for the sparklines */
  | { type: 'history', entries: ReadonlyArray<{ peerId: string, points: readonly CpuPoint[] }> }
  /** the node's deployments as it sees them, or why they could not be listed */
  | { type: 'deployments', list: readonly DeploymentStatus[] }
  | { type: 'deploymentsError', text: string }
  | { type: 'connection', state: ConnectionState, note?: string }
  | { type: 'tick', now: number }
  | { type: 'resize', cols: number, rows: number }
  | { type: 'logData', managedId: string, data: string }
  | { type: 'logEnd', managedId: string, text: string, failed?: boolean }
  | { type: 'status', text: string, level?: 'info' | 'error' }
  // ---- from keys ----
  | { type: 'move', delta: number }
  | { type: 'page', dir: 1 | -1 }
  | { type: 'jump', to: 'first' | 'last' }
  | { type: 'focus', dir: 1 | -1 }
  | { type: 'enter' }
  | { type: 'back' }
  | { type: 'openFilter' }
  | { type: 'openSearch' }
  | { type: 'searchNext' }
  | { type: 'nextSort' }
  | { type: 'toggleTree' }
  | { type: 'fold', open: boolean }
  | { type: 'sort', key: SortKey }
  | { type: 'reverse' }
  | { type: 'askStop' }
  | { type: 'restart' }
  | { type: 'askStart' }
  | { type: 'logs' }
  | { type: 'toggleMeshWide' }
  | { type: 'toggleManaged' }
  | { type: 'openDeployments' }
  | { type: 'cycleRange' }
  | { type: 'toggleMark' }
  | { type: 'clearMarks' }
  | { type: 'toggleHelp' }
  | { type: 'quit' }
  // ---- inside modals ----
  | { type: 'inputChar', ch: string }
  | { type: 'inputErase', what: 'char' | 'word' | 'all' }
  | { type: 'submit' }
  | { type: 'cancel' }
  | { type: 'pick', delta: number }
  | { type: 'pickIndex', index: number }
  | { type: 'toggleSubtree' }
  | { type: 'confirm' }

export interface Step { state: State, effects: Effect[] }


/** CPU samples older than this are dropped: the sparkline shows this window. */
export const TRAIL_WINDOW_MS = 8 * 60 * 1000

const HOUR_MS = 60 * 60 * 1000
/** The time each sparkline range covers. */
export const TRAIL_RANGE_MS: Readonly<Record<TrailRange, number>> = { live: TRAIL_WINDOW_MS, '1h': HOUR_MS, '24h': 24 * HOUR_MS, '7d': 7 * 24 * HOUR_MS }
/** How the hosts pane labels a range. */
export const TRAIL_RANGE_LABELS: Readonly<Record<TrailRange, string>> = { live: `${TRAIL_WINDOW_MS / 60_000}m`, '1h': '1h', '24h': '24h', '7d': '7d' }
/** Cells of a host's sparkline; a range is asked downsampled to exactly this many points. */
export const SPARK_WIDTH = 16
/** The details pane shows a process's last hour (the node keeps per-process series for at most 4 h). */
export const PROC_HISTORY_MS = HOUR_MS

export const SORT_LABELS: Readonly<Record<SortKey, string>> = { cpu: 'CPU', mem: 'memory', pid: 'PID', name: 'name' }

/** Identifies one process of one host across refreshes (a reused pid has another start time). */
export function markKey (t: Pick<ProcRef, 'peerId' | 'pid' | 'startTime'>): string {
  return `${t.peerId} ${t.pid} ${t.startTime}`
}
