/**
 * Live mesh events for `GET /api/events`: one poller asks the node for its peers
 * every second while at least one browser listens, diffs each answer against the
 * last, and fans the changes out to every listener. No listener, no polling.
 */
import { toProcmeshError } from '../../protocols/errors.js'
import type { PeerEntry } from '../../protocols/types.js'
import { peerJson } from '../peer-view.js'
import type { MeshEvent } from './api-types.js'

export type { HostJson, MeshEvent } from './api-types.js'

export type MeshListener = (event: MeshEvent) => void

/** The node's view is refreshed every interval (2 s by default): polling at 1 s misses no summary for long. */
export const DEFAULT_POLL_INTERVAL_MS = 1000

/** What changed between two views of the mesh, in the order of `next` (then the peers that left). Pure. */
export function diffPeers (prev: readonly PeerEntry[], next: readonly PeerEntry[]): MeshEvent[] {
  const before = new Map(prev.map(p => [p.peerId, p]))
  const events: MeshEvent[] = []
  for (const peer of next) {
    const old = before.get(peer.peerId)
    before.delete(peer.peerId)
    if (old === undefined) {
      events.push({ type: 'peer-joined', peer: peerJson(peer) })
    } else if (old.status !== peer.status) {
      events.push({ type: 'peer-status', peer: peerJson(peer), previous: old.status })
    } else if (JSON.stringify(peerJson(old)) !== JSON.stringify(peerJson(peer))) {
      events.push({ type: 'summary', peer: peerJson(peer) })
    }
  }
  for (const gone of before.values()) events.push({ type: 'peer-left', peerId: gone.peerId, name: gone.name })
  return events
}

export interface PeerPollerOptions {
  fetchPeers: () => Promise<PeerEntry[]>
  intervalMs?: number
  /** told about a listener that threw; the others still get the event */
  onListenerError?: (err: unknown) => void
}

export class PeerPoller {
  private readonly fetchPeers: () => Promise<PeerEntry[]>
  private readonly intervalMs: number
  private readonly onListenerError: (err: unknown) => void
  private readonly listeners = new Set<MeshListener>()
  private peers?: PeerEntry[]
  private lastError?: { code: string, message: string }
  private timer?: NodeJS.Timeout
  /** bumped on every start and stop, so an answer that arrives after a stop is dropped */
  private generation = 0
  private polling = false
  private polls = 0

  constructor (opts: PeerPollerOptions) {
    this.fetchPeers = opts.fetchPeers
    this.intervalMs = opts.intervalMs ?? DEFAULT_POLL_INTERVAL_MS
    this.onListenerError = opts.onListenerError ?? (() => {})
  }

  /** True while the poller asks the node (only while someone listens). */
  get running (): boolean {
    return this.polling
  }

  get listenerCount (): number {
    return this.listeners.size
  }

  /** How many times the node was asked so far (for tests and diagnostics). */
  get pollCount (): number {
    return this.polls
  }

  /** Start listening: the current view comes at once when known, then changes. Returns the unsubscribe. */
  subscribe (listener: MeshListener): () => void {
    this.listeners.add(listener)
    if (this.peers !== undefined) this.deliver(listener, { type: 'snapshot', hosts: this.peers.map(peerJson) })
    else if (this.lastError !== undefined) this.deliver(listener, { type: 'node-error', error: this.lastError })
    if (!this.polling) this.start()
    return () => { this.unsubscribe(listener) }
  }

  /** Stop polling and drop every listener. */
  stop (): void {
    this.listeners.clear()
    this.halt()
  }

  private unsubscribe (listener: MeshListener): void {
    this.listeners.delete(listener)
    if (this.listeners.size === 0) this.halt()
  }

  private start (): void {
    this.polling = true
    this.generation++
    this.tick(this.generation)
  }

  private halt (): void {
    this.polling = false
    this.generation++
    clearTimeout(this.timer)
    this.timer = undefined
    // a later listener must not get a view that went stale while nobody polled
    this.peers = undefined
    this.lastError = undefined
  }

  private tick (generation: number): void {
    this.polls++
    this.fetchPeers().then(peers => {
      if (generation !== this.generation) return
      this.accept(peers)
    }, (err: unknown) => {
      if (generation !== this.generation) return
      this.fail(err)
    }).finally(() => {
      if (generation !== this.generation) return
      this.timer = setTimeout(() => { this.tick(generation) }, this.intervalMs)
    }).catch((err: unknown) => { this.onListenerError(err) })
  }

  private accept (peers: PeerEntry[]): void {
    const prev = this.peers
    this.peers = peers
    this.lastError = undefined
    const events = prev === undefined ? [{ type: 'snapshot', hosts: peers.map(peerJson) } satisfies MeshEvent] : diffPeers(prev, peers)
    for (const event of events) this.broadcast(event)
  }

  private fail (err: unknown): void {
    const error = toProcmeshError(err).toJSON()
    this.peers = undefined
    if (this.lastError?.code === error.code && this.lastError.message === error.message) return
    this.lastError = error
    this.broadcast({ type: 'node-error', error })
  }

  private broadcast (event: MeshEvent): void {
    for (const listener of [...this.listeners]) this.deliver(listener, event)
  }

  private deliver (listener: MeshListener, event: MeshEvent): void {
    try {
      listener(event)
    } catch (err: unknown) {
      this.onListenerError(err)
    }
  }
}
