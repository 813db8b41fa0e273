/**
 * The TUI's data source: polls the local node over the control API and turns answers
 * into actions. peers every second, ps for the listed host(s) and ls (the managed
 * processes of every host, for their state and the exit notices) every interval, history
 * for the sparklines every ten seconds, deployments every interval while their overlay is
 * open. When the node goes away (restart, crash) it says so and reconnects with backoff
 * instead of failing.
 */
import { UnknownMethodError, type HistoryEntry, type LogsResult, type LsEntry, type PsEntry } from '../../protocols/control.js'
import { ProcmeshError, errorMessage } from '../../protocols/errors.js'
import type { ListTop } from '../../protocols/messages.js'
import { isNoNode, type ControlClient } from '../control-client.js'
import { SPARK_WIDTH, TRAIL_WINDOW_MS, type Action, type CpuPoint, type ProcPoint, type TrailRange } from './model.js'
import type { ProcHistoryTarget } from './selectors.js'

export type Connect = () => Promise<ControlClient>

export interface DataSourceOptions {
  connect: Connect
  dispatch: (action: Action) => void
  /** ps refresh period (the `--interval` of top) */
  intervalMs: number
  /** peers refresh period; default 1 s */
  peersMs?: number
  /** history refresh period; default 10 s */
  historyMs?: number
  now?: () => number
}

export const DEFAULT_PEERS_MS = 1000
export const DEFAULT_HISTORY_MS = 10_000
/** Reconnect backoff: first delay and cap. A restarting node is back within a few seconds. */
export const RECONNECT_BASE_MS = 250
export const RECONNECT_MAX_MS = 5000
/** Streamed per-host ps entries are applied in batches, so 20 hosts answering cost a few rebuilds, not 20. */
const PS_BATCH_MS = 150
/** Routine ps and history refreshes wait until no key came for this long ... */
const INPUT_QUIET_MS = 300
/** ... but never more than this past their time: data must not freeze under a held-down key. */
const MAX_HOLD_MS = 2000
const HEAVY_POLLS: ReadonlySet<PollKind> = new Set<PollKind>(['ps', 'history', 'ls', 'range', 'procHistory'])
/**
 * A sparkline range is asked again this often: its newest cell moves, the rest changes only
 * as the range slides (a 24 h cell is 90 minutes wide).
 */
export const RANGE_POLL_MS = 30_000
/** Points of a process's history in the details pane: about a line's width. */
export const PROC_HISTORY_POINTS = 60
/** A new target is listed this soon after it is chosen: moving over hosts with the keys does not fire a ps per host. */
const TARGET_DEBOUNCE_MS = 80

export function reconnectDelay (attempt: number): number {
  return Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** Math.min(attempt, 16))
}

/** The CPU points of a `history` answer entry, or undefined when it carries an error. */
export function historyPoints (entry: HistoryEntry): { peerId: string, points: CpuPoint[] } | undefined {
  if ('error' in entry) return undefined
  return { peerId: entry.peerId, points: entry.history.points.map(p => ({ at: p.at, cpu: p.cpuPercent })) }
}

type PollKind = 'peers' | 'ps' | 'history' | 'ls' | 'range' | 'procHistory' | 'deployments'

export interface LogFollow {
  /** stop following (closes the connection, so the node ends the follow too) */
  cancel: () => void
}

export class MeshDataSource {
  private readonly opts: Required<Omit<DataSourceOptions, 'now'>> & { now: () => number }
  private client?: ControlClient
  private target?: string
  private top?: ListTop
  private stopped = true
  private attempt = 0
  /** bumped on every (re)connection: loops of an older connection stop rescheduling */
  private generation = 0
  private readonly timers = new Map<PollKind | 'reconnect', NodeJS.Timeout>()
  private readonly inFlight = new Set<PollKind>()
  /** polls asked for while one was in flight (a new target, range or process): run again right after */
  private readonly again = new Set<PollKind>()
  private historyUnsupported = false
  private range?: { range: TrailRange, ms: number }
  private procTarget?: ProcHistoryTarget
  private lsUnsupported = false
  private deploymentsOn = false
  /** the last error reported per poll, so a failure repeating every second is said once */
  private readonly lastError = new Map<PollKind | 'source', string>()
  private readonly follows = new Set<ControlClient>()
  private lastInputAt = 0

  constructor (opts: DataSourceOptions) {
    // `??`, not a spread: an option passed as undefined must still get its default
    this.opts = {
      ...opts,
      peersMs: opts.peersMs ?? DEFAULT_PEERS_MS,
      historyMs: opts.historyMs ?? DEFAULT_HISTORY_MS,
      now: opts.now ?? Date.now
    }
  }

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    this.connectLoop().catch((err: unknown) => { this.report('source', `data source: ${errorMessage(err)}`) })
  }

  stop (): void {
    this.stopped = true
    this.generation++
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    this.client?.close()
    this.client = undefined
    for (const f of this.follows) f.close()
    this.follows.clear()
  }

  /** List this target from now on ('all' or a peer id); undefined lists nothing. `top` asks each host for its busiest only. */
  setTarget (target: string | undefined, top?: ListTop): void {
    if (target === this.target && JSON.stringify(top) === JSON.stringify(this.top)) return
    this.target = target
    this.top = top
    this.schedule('ps', TARGET_DEBOUNCE_MS)
  }

  /** Fetch the sparklines' range of every host's history (undefined: the live trail only). */
  setRange (range: { range: TrailRange, ms: number } | undefined): void {
    if (range?.range === this.range?.range) return
    this.range = range
    if (range !== undefined) this.schedule('range', 0)
  }

  /** Fetch this process's own history for the details pane (undefined: none open). */
  setProcHistory (target: ProcHistoryTarget | undefined): void {
    const same = target !== undefined && this.procTarget !== undefined && target.peerId === this.procTarget.peerId &&
      target.pid === this.procTarget.pid && target.startTime === this.procTarget.startTime
    if (same || (target === undefined && this.procTarget === undefined)) return
    this.procTarget = target
    if (target !== undefined) this.schedule('procHistory', TARGET_DEBOUNCE_MS)
  }

  /** Poll the node's deployments while `on` (the overlay is open); nothing is asked otherwise. */
  setDeployments (on: boolean): void {
    if (on === this.deploymentsOn) return
    this.deploymentsOn = on
    if (on) this.schedule('deployments', 0)
  }

  /** Poll processes (and peers) now, e.g. after a start or a stop. */
  refreshNow (): void {
    this.schedule('ps', 0)
    this.schedule('peers', 0)
    this.schedule('ls', 0)
  }

  /** The client of the current connection; fails at once while the node is away. */
  node (): ControlClient {
    if (this.client === undefined) throw new ProcmeshError('UNAVAILABLE', 'not connected to the node (it is restarting?)')
    return this.client
  }

  /**
   * Follow a managed process's output on a connection of its own, so that stopping
   * the follow closes it and the node stops streaming.
   */
  async followLogs (peerId: string, managedId: string, onChunk: (data: string) => void): Promise<{ follow: LogFollow, done: Promise<LogsResult> }> {
    const client = await this.opts.connect()
    this.follows.add(client)
    let cancelled = false
    const follow: LogFollow = {
      cancel: () => {
        cancelled = true
        this.follows.delete(client)
        client.close()
      }
    }
    const done = client.logs({ target: peerId, managedId, follow: true }, {
      onData: chunk => { if (!cancelled) onChunk(chunk.data) }
    }).finally(() => {
      this.follows.delete(client)
      client.close()
    })
    return { follow, done }
  }

  // ---- connection ----

  private async connectLoop (): Promise<void> {
    const gen = ++this.generation
    while (!this.stopped && gen === this.generation) {
      try {
        const client = await this.opts.connect()
        if (this.stopped || gen !== this.generation) { client.close(); return }
        this.client = client
        this.attempt = 0
        client.onClose(() => { if (this.client === client) this.lost() })
        this.opts.dispatch({ type: 'connection', state: 'up' })
        this.schedule('peers', 0)
        this.schedule('ps', 0)
        this.schedule('history', 0)
        this.schedule('ls', 0)
        if (this.range !== undefined) this.schedule('range', 0)
        if (this.procTarget !== undefined) this.schedule('procHistory', 0)
        if (this.deploymentsOn) this.schedule('deployments', 0)
        return
      } catch (err: unknown) {
        const delay = reconnectDelay(this.attempt++)
        const why = isNoNode(err) ? 'no node running' : errorMessage(err)
        this.opts.dispatch({ type: 'connection', state: 'down', note: `node unreachable (${why}); retrying in ${(delay / 1000).toFixed(1)}s` })
        await new Promise<void>(resolve => { this.timers.set('reconnect', setTimeout(resolve, delay)) })
      }
    }
  }

  private lost (): void {
    this.client = undefined
    this.generation++
    for (const [kind, t] of this.timers) { clearTimeout(t); this.timers.delete(kind) }
    this.inFlight.clear()
    this.again.clear()
    this.opts.dispatch({ type: 'connection', state: 'down', note: 'node restarting… reconnecting' })
    if (!this.stopped) {
      const delay = reconnectDelay(this.attempt++)
      this.timers.set('reconnect', setTimeout(() => {
        this.connectLoop().catch((err: unknown) => { this.report('source', `reconnect: ${errorMessage(err)}`) })
      }, delay))
    }
  }

  // ---- polling ----

  /**
   * `periodic`: a routine refresh, which waits while the user is typing (see noteInput).
   * Polls for a new target or after an action are never held back.
   */
  private schedule (kind: PollKind, delayMs: number, periodic = false): void {
    if (this.stopped || this.client === undefined) return
    if (this.inFlight.has(kind)) {
      // the answer in flight is for the old target: poll again right after it
      if (kind === 'ps' || kind === 'range' || kind === 'procHistory') this.again.add(kind)
      return
    }
    const old = this.timers.get(kind)
    if (old !== undefined) clearTimeout(old)
    const gen = this.generation
    const due = Date.now() + delayMs
    const fire = (): void => {
      this.timers.delete(kind)
      if (gen !== this.generation) return
      const now = Date.now()
      if (periodic && HEAVY_POLLS.has(kind) && now - this.lastInputAt < INPUT_QUIET_MS && now - due < MAX_HOLD_MS) {
        this.timers.set(kind, setTimeout(fire, INPUT_QUIET_MS))
        return
      }
      this.poll(kind, gen)
    }
    this.timers.set(kind, setTimeout(fire, delayMs))
  }

  /**
   * A key was pressed. Big answers (every host's processes) take tens of milliseconds to
   * parse, and a key arriving meanwhile waits for it; so routine refreshes of those hold
   * off while keys keep coming, up to MAX_HOLD_MS.
   */
  noteInput (): void {
    this.lastInputAt = Date.now()
  }

  private poll (kind: PollKind, gen: number): void {
    const client = this.client
    if (client === undefined || this.stopped) return
    this.inFlight.add(kind)
    const run = kind === 'peers' ? this.pollPeers(client)
      : kind === 'ps' ? this.pollPs(client)
        : kind === 'ls' ? this.pollLs(client)
          : kind === 'range' ? this.pollRange(client)
            : kind === 'procHistory' ? this.pollProcHistory(client)
              : kind === 'deployments' ? this.pollDeployments(client)
                : this.pollHistory(client)
    run.then(() => {
      this.lastError.delete(kind)
    }, (err: unknown) => {
      // a closed connection is handled by lost(); anything else is worth a line, once
      if (this.client === client) this.report(kind, `${kind}: ${errorMessage(err)}`)
    }).finally(() => {
      this.inFlight.delete(kind)
      if (gen !== this.generation) return
      if (this.again.delete(kind)) { this.schedule(kind, 0); return }
      const period = kind === 'peers' ? this.opts.peersMs : kind === 'ps' || kind === 'ls' || kind === 'deployments' ? this.opts.intervalMs : kind === 'range' ? RANGE_POLL_MS : this.opts.historyMs
      if (kind === 'history' && this.historyUnsupported) return
      // a range or a process no longer shown is not asked again
      if (kind === 'range' && this.range === undefined) return
      if (kind === 'procHistory' && this.procTarget === undefined) return
      if (kind === 'ls' && this.lsUnsupported) return
      if (kind === 'deployments' && !this.deploymentsOn) return
      this.schedule(kind, period, true)
    }).catch((err: unknown) => { this.report(kind, `${kind}: ${errorMessage(err)}`) })
  }

  private async pollPeers (client: ControlClient): Promise<void> {
    // the screen shows these hosts: the node pulls their live figures while we ask
    const peers = await client.peers({ live: 'all' })
    this.opts.dispatch({ type: 'peers', peers })
  }

  private async pollPs (client: ControlClient): Promise<void> {
    const target = this.target
    if (target === undefined) return
    const applied = new Set<string>()
    let batch: PsEntry[] = []
    let timer: NodeJS.Timeout | undefined
    const flush = (): void => {
      timer = undefined
      if (batch.length === 0) return
      for (const e of batch) applied.add(e.peerId)
      this.opts.dispatch({ type: 'procs', entries: batch })
      batch = []
    }
    try {
      const entries = await client.ps({ target, streamed: true, ...(this.top !== undefined ? { top: this.top } : {}) }, {
        onData: entry => {
          batch.push(entry)
          timer ??= setTimeout(flush, PS_BATCH_MS)
        }
      })
      // apply what was streamed first: with streamed: true the final result carries no processes
      if (timer !== undefined) { clearTimeout(timer); flush() }
      // entries already applied from the stream are not rebuilt again; `only` drops hosts that left
      const fresh = entries.filter(e => !applied.has(e.peerId))
      this.opts.dispatch({ type: 'procs', entries: fresh, only: target === 'all' ? entries.map(e => e.peerId) : undefined })
    } finally {
      if (timer !== undefined) clearTimeout(timer)
    }
  }

  private async pollLs (client: ControlClient): Promise<void> {
    let entries: LsEntry[]
    try {
      // every host, not only the listed one: a crash loop anywhere in the mesh is worth a notice
      entries = await client.ls({ target: 'all' })
    } catch (err: unknown) {
      // a node without `ls` still works: the managed view then shows the listed managed processes
      if (err instanceof UnknownMethodError) { this.lsUnsupported = true; return }
      throw err
    }
    this.opts.dispatch({ type: 'managed', entries })
  }

  private async pollDeployments (client: ControlClient): Promise<void> {
    if (!this.deploymentsOn) return
    try {
      this.opts.dispatch({ type: 'deployments', list: await client.deployments() })
    } catch (err: unknown) {
      // the overlay says why it is empty (an older node, a refusal) where the list would be
      const text = err instanceof UnknownMethodError ? 'this node does not know deployments (an older procmesh)' : `deployments: ${errorMessage(err)}`
      this.opts.dispatch({ type: 'deploymentsError', text })
    }
  }

  private async pollRange (client: ControlClient): Promise<void> {
    const want = this.range
    if (want === undefined) return
    const to = this.opts.now()
    const result = await client.history({ target: 'all', from: to - want.ms, to, points: SPARK_WIDTH, top: 0 })
    const entries = result.map(historyPoints).filter((h): h is { peerId: string, points: CpuPoint[] } => h !== undefined)
    this.opts.dispatch({ type: 'rangeHistory', range: want.range, entries })
  }

  private async pollProcHistory (client: ControlClient): Promise<void> {
    const t = this.procTarget
    if (t === undefined) return
    const to = this.opts.now()
    const base = { type: 'procHistory' as const, peerId: t.peerId, pid: t.pid, startTime: t.startTime }
    let result: HistoryEntry[]
    try {
      result = await client.history({ target: t.peerId, from: to - t.ms, to, points: PROC_HISTORY_POINTS, top: 0, pid: t.pid, startTime: t.startTime })
    } catch (err: unknown) {
      this.opts.dispatch({ ...base, points: [], note: `no history: ${errorMessage(err)}` })
      return
    }
    const entry = result[0]
    if (entry === undefined) return
    if ('error' in entry) { this.opts.dispatch({ ...base, points: [], note: `no history: ${entry.error.message}` }); return }
    const series = entry.history.process
    if (series === undefined) { this.opts.dispatch({ ...base, points: [], note: `${entry.name} keeps no per-process history (an older procmesh)` }); return }
    const points: ProcPoint[] = series.points.map(p => ({ at: p.at, cpu: p.cpuPercent, rss: p.rss }))
    this.opts.dispatch({ ...base, points })
  }

  private async pollHistory (client: ControlClient): Promise<void> {
    let result: HistoryEntry[]
    try {
      result = await client.history({ target: 'all', since: this.opts.now() - TRAIL_WINDOW_MS })
    } catch (err: unknown) {
      // a node without history still works: the sparklines fill from the peers' samples
      if (err instanceof UnknownMethodError) { this.historyUnsupported = true; return }
      throw err
    }
    const entries = result.map(historyPoints).filter((h): h is { peerId: string, points: CpuPoint[] } => h !== undefined)
    if (entries.length > 0) this.opts.dispatch({ type: 'history', entries })
  }

  private report (kind: PollKind | 'source', text: string): void {
    if (this.lastError.get(kind) === text) return
    this.lastError.set(kind, text)
    this.opts.dispatch({ type: 'status', text, level: 'error' })
  }
}
