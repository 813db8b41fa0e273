/**
 * Notices about managed processes for `GET /api/events`: while at least one browser
 * listens, one watcher asks the node for every host's managed processes (`ls all`),
 * compares each record with the one before, and tells the listeners when a process
 * exited (and whether its policy already started it again) or entered crash-loop.
 * No listener, no polling.
 */
import type { LsEntry } from '../../protocols/control.js'
import type { ManagedProcess } from '../../protocols/managed.js'
import type { MeshEvent } from './api-types.js'

/**
 * How often the managed records are compared. Each poll is a fan-out to every host
 * (one small answer each); a notice a few seconds after an exit is soon enough for a
 * person watching, and a process that exits and is restarted between two polls is still
 * seen (its last exit changed).
 */
export const MANAGED_POLL_INTERVAL_MS = 3000

type ManagedEvent = Extract<MeshEvent, { type: 'managed' }>

/** The exits and crash loops between two answers of `ls all`, in the order of `next`. Pure. */
export function diffManaged (prev: readonly LsEntry[], next: readonly LsEntry[]): ManagedEvent[] {
  const before = new Map<string, ManagedProcess>()
  const hostsBefore = new Set<string>()
  for (const e of prev) {
    if ('error' in e) continue
    hostsBefore.add(e.peerId)
    for (const m of e.processes) before.set(`${e.peerId}/${m.managedId}`, m)
  }
  const events: ManagedEvent[] = []
  for (const e of next) {
    // a host not seen before (the first answer, or back from an error) has no news, only a state
    if ('error' in e || !hostsBefore.has(e.peerId)) continue
    for (const m of e.processes) {
      // a record new since the last answer: whatever it did already happened since then
      const old = before.get(`${e.peerId}/${m.managedId}`)
      const base = { type: 'managed', peerId: e.peerId, host: e.name, process: m } as const
      if (m.state === 'crash-loop' && old?.state !== 'crash-loop') events.push({ ...base, change: 'crash-loop' })
      else if (m.lastExit !== null && m.lastExit.at !== old?.lastExit?.at) events.push({ ...base, change: m.state === 'running' ? 'restarted' : 'exited' })
    }
  }
  return events
}

export interface ManagedWatcherOptions {
  fetchManaged: () => Promise<LsEntry[]>
  intervalMs?: number
  /** told about a listener that threw */
  onListenerError?: (err: unknown) => void
}

export class ManagedWatcher {
  private readonly fetchManaged: () => Promise<LsEntry[]>
  private readonly intervalMs: number
  private readonly onListenerError: (err: unknown) => void
  private readonly listeners = new Set<(event: MeshEvent) => void>()
  private last?: LsEntry[]
  private timer?: NodeJS.Timeout
  /** bumped on every start and stop, so an answer that arrives after a stop is dropped */
  private generation = 0

  constructor (opts: ManagedWatcherOptions) {
    this.fetchManaged = opts.fetchManaged
    this.intervalMs = opts.intervalMs ?? MANAGED_POLL_INTERVAL_MS
    this.onListenerError = opts.onListenerError ?? (() => {})
  }

  get running (): boolean {
    return this.listeners.size > 0
  }

  /** Listen for notices; the first listener starts the polling, the last one leaving stops it. */
  subscribe (listener: (event: MeshEvent) => void): () => void {
    this.listeners.add(listener)
    if (this.listeners.size === 1) {
      this.generation++
      this.tick(this.generation)
    }
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.halt()
    }
  }

  stop (): void {
    this.listeners.clear()
    this.halt()
  }

  private halt (): void {
    this.generation++
    clearTimeout(this.timer)
    this.timer = undefined
    // exits while nobody listened are not news to the next listener
    this.last = undefined
  }

  private tick (generation: number): void {
    this.fetchManaged().then(entries => {
      if (generation !== this.generation) return
      const prev = this.last
      this.last = entries
      if (prev === undefined) return
      for (const event of diffManaged(prev, entries)) {
        for (const listener of [...this.listeners]) {
          try {
            listener(event)
          } catch (err: unknown) {
            this.onListenerError(err)
          }
        }
      }
    }, () => {
      // the last answer stays the baseline: exits while the node was away are told when it
      // answers again; the node being down reaches the page as the peers' node-error
    }).finally(() => {
      if (generation !== this.generation) return
      this.timer = setTimeout(() => { this.tick(generation) }, this.intervalMs)
    }).catch((err: unknown) => { this.onListenerError(err) })
  }
}
