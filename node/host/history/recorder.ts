/**
 * Records this host's past: at every sample the host figures and the top processes, and
 * every process start and exit (the /proc diff between samples, with the supervisor's exit
 * code for managed processes). A node part: start() opens the store, stop() closes it.
 * A failing disk is logged (once a minute at most) and never stops the node.
 */
import type { HistoryRequest, HistoryResult } from '../../../protocols/messages.js'
import type { ProcessInfo, Snapshot } from '../../../protocols/types.js'
import type { Logger } from '../../logger.js'
import { answerRange } from './query.js'
import { HISTORY_TOP_N, diffEvents, procKey, topUnion, type ManagedExit } from './records.js'
import type { HistoryStore } from './store.js'

/** Exit codes are kept this long waiting for the sample that sees the exit (ms). */
const MANAGED_EXIT_KEEP_MS = 60_000
const WARN_EVERY_MS = 60_000

export interface HistoryRecorderInit {
  store: HistoryStore
  intervalMs: number
  log: Logger
  /** managed processes now, by pid (the supervisor's marks) */
  managed?: () => ReadonlyMap<number, { managedId: string, startTime?: number }>
  topN?: number
}

export class HistoryRecorder {
  readonly store: HistoryStore
  private readonly init: HistoryRecorderInit
  private prev?: Map<string, ProcessInfo>
  private baselineAt = 0
  private lastSampleLineAt = 0
  private readonly managedExits = new Map<string, ManagedExit & { seenAt: number }>()
  private lastWarnAt = 0
  private opened = false

  constructor (init: HistoryRecorderInit) {
    this.init = init
    this.store = init.store
  }

  start (): void {
    if (this.opened) return
    this.store.open()
    this.opened = true
    this.baselineAt = this.store.lastSampleAt
    const usage = this.store.usage()
    this.init.log.info('history: %s in %d segment(s), oldest %s (%s)', `${(usage.bytes / 1048576).toFixed(1)} MiB`, usage.segments,
      usage.oldest === null ? 'none' : new Date(usage.oldest).toISOString(), this.store.dir)
  }

  stop (): void {
    if (!this.opened) return
    this.opened = false
    this.store.close()
  }

  /** The supervisor saw a managed process end: keep its code for the sample that misses it. */
  noteManagedExit (info: { pid: number, startTime: number, managedId: string, exitCode: number | null, signal: string | null }): void {
    const now = Date.now()
    for (const [key, e] of this.managedExits) if (now - e.seenAt > MANAGED_EXIT_KEEP_MS) this.managedExits.delete(key)
    this.managedExits.set(procKey(info.pid, info.startTime), { managedId: info.managedId, exitCode: info.exitCode, signal: info.signal, seenAt: now })
  }

  record (snap: Snapshot): void {
    if (!this.opened) return
    try {
      const managedIds = new Map<string, string>()
      for (const [pid, m] of this.init.managed?.() ?? new Map<number, { managedId: string, startTime?: number }>()) {
        if (m.startTime !== undefined) managedIds.set(procKey(pid, m.startTime), m.managedId)
      }
      const { events, current } = diffEvents(this.prev, snap, {
        baselineAt: this.prev === undefined && this.baselineAt > 0 ? this.baselineAt : undefined,
        managedIds,
        managedExits: this.managedExits
      })
      this.prev = current
      for (const e of events) if (e.kind === 'exit') this.managedExits.delete(procKey(e.pid, e.startTime))
      this.store.appendEvents(events)
      // samples taken between intervals (a pid change) add events, not sample lines
      if (snap.collectedAt - this.lastSampleLineAt >= this.init.intervalMs * 0.9) {
        this.lastSampleLineAt = snap.collectedAt
        this.store.appendSample(snap, topUnion(snap.processes, this.init.topN ?? HISTORY_TOP_N))
      }
    } catch (err: unknown) {
      const now = Date.now()
      if (now - this.lastWarnAt >= WARN_EVERY_MS) {
        this.lastWarnAt = now
        this.init.log.warn('history: recording failed: %s', err instanceof Error ? err.message : String(err))
      }
    }
  }

  query (req: HistoryRequest): HistoryResult {
    return answerRange(this.store, req, this.init.intervalMs)
  }
}
