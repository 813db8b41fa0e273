/**
 * The mesh view: peer -> latest summary, last seen, connection state, and the
 * status derived from them. Time is passed in, so the state machine is pure to test.
 */
import {
  FORGET_OFFLINE_AFTER_MS, MAX_VIEW_PEERS, OFFLINE_AFTER_INTERVALS, STALE_AFTER_INTERVALS
} from '../../protocols/limits.js'
import { checkSummaryOrigin } from '../../protocols/summary.js'
import type { PeerEntry, PeerStatus, Summary } from '../../protocols/types.js'

interface ViewRecord {
  summary: Summary
  /** local clock when the latest summary arrived (never the author's clock) */
  lastSeen: number
  /** local clock when the connection to the peer last closed; undefined while connected or never */
  disconnectedAt?: number
}

export type AcceptResult = { accepted: true, isNew: boolean } | { accepted: false, reason: string }

export type ViewEvent =
  | { type: 'peer:joined', peerId: string }
  | { type: 'peer:updated', peerId: string }
  | { type: 'peer:status', peerId: string, status: PeerStatus }

/** Status from the age of the latest summary and the connection state. */
export function peerStatus (now: number, lastSeen: number, intervalMs: number, disconnectedAt?: number): PeerStatus {
  const age = now - lastSeen
  if (age >= OFFLINE_AFTER_INTERVALS * intervalMs) return 'offline'
  // a disconnect after the latest summary means offline until a newer summary arrives
  if (disconnectedAt !== undefined && disconnectedAt >= lastSeen) return 'offline'
  if (age >= STALE_AFTER_INTERVALS * intervalMs) return 'stale'
  return 'online'
}

export class MeshView {
  private readonly records = new Map<string, ViewRecord>()
  private readonly selfId: string
  private readonly lastStatus = new Map<string, PeerStatus>()

  constructor (selfId: string) {
    this.selfId = selfId
  }

  /**
   * Offer a summary received from `author` (the authenticated gossip author).
   * Rejects a summary describing another node and one whose sequence is not newer.
   */
  offer (summary: Summary, author: string, now: number): AcceptResult {
    // this node's own entry comes from setSelf only, never from the network
    if (summary.peerId === this.selfId) return { accepted: false, reason: 'summary describes this node' }
    const existing = this.records.get(summary.peerId)
    const reason = checkSummaryOrigin(summary, author, existing?.summary.seq)
    if (reason !== undefined) return { accepted: false, reason }
    if (existing === undefined && this.records.size >= MAX_VIEW_PEERS) {
      this.forget(now)
      if (this.records.size >= MAX_VIEW_PEERS) return { accepted: false, reason: `view is full (${MAX_VIEW_PEERS} peers)` }
    }
    this.records.set(summary.peerId, { summary, lastSeen: now, disconnectedAt: undefined })
    return { accepted: true, isNew: existing === undefined }
  }

  /** Our own summary enters the view directly. */
  setSelf (summary: Summary, now: number): void {
    this.records.set(this.selfId, { summary, lastSeen: now })
  }

  connected (peerId: string): void {
    const rec = this.records.get(peerId)
    if (rec !== undefined) rec.disconnectedAt = undefined
  }

  disconnected (peerId: string, now: number): void {
    const rec = this.records.get(peerId)
    if (rec !== undefined) rec.disconnectedAt = now
  }

  get (peerId: string): Summary | undefined {
    return this.records.get(peerId)?.summary
  }

  lastSeq (peerId: string): number | undefined {
    return this.records.get(peerId)?.summary.seq
  }

  status (peerId: string, now: number): PeerStatus | undefined {
    if (peerId === this.selfId) return this.records.has(peerId) ? 'online' : undefined
    const rec = this.records.get(peerId)
    if (rec === undefined) return undefined
    return peerStatus(now, rec.lastSeen, rec.summary.intervalMs, rec.disconnectedAt)
  }

  /** Entries in the shape of `procmesh peers --json`, self first, then by name. */
  entries (now: number): PeerEntry[] {
    const out: PeerEntry[] = []
    for (const [peerId, rec] of this.records) {
      const s = rec.summary
      out.push({
        peerId,
        name: s.name,
        status: this.status(peerId, now) ?? 'offline',
        lastSeen: rec.lastSeen,
        tags: s.tags,
        addrs: s.addrs,
        self: peerId === this.selfId,
        host: s.host,
        procCount: s.procCount,
        version: s.version,
        topCpu: s.topCpu,
        topMem: s.topMem
      })
    }
    return out.sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name) || a.peerId.localeCompare(b.peerId))
  }

  /** Status transitions since the last call, for event streams (TUI, web). */
  transitions (now: number): ViewEvent[] {
    const events: ViewEvent[] = []
    for (const peerId of this.records.keys()) {
      const status = this.status(peerId, now) ?? 'offline'
      if (this.lastStatus.get(peerId) !== status) {
        this.lastStatus.set(peerId, status)
        events.push({ type: 'peer:status', peerId, status })
      }
    }
    return events
  }

  /** Drop peers offline for longer than FORGET_OFFLINE_AFTER_MS. */
  forget (now: number): void {
    for (const [peerId, rec] of this.records) {
      if (peerId !== this.selfId && now - rec.lastSeen > FORGET_OFFLINE_AFTER_MS) {
        this.records.delete(peerId)
        this.lastStatus.delete(peerId)
      }
    }
  }

  get size (): number {
    return this.records.size
  }
}
