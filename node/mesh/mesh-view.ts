/**
 * The mesh view: peer -> latest summary (full summaries and deltas applied in order), when
 * it was last heard from, its connection and probe state, and the status derived from them.
 * Time is passed in, so the state machine is pure to test.
 *
 * Status (see README, "Liveness"):
 * - a member with a direct connection is `online`, or `stale` while its probes fail;
 * - a member whose connection closed after it was last heard from, or that said goodbye,
 *   is `offline` at once (a newer message relayed by others brings it back);
 * - a member heard only through others (never connected, e.g. on another subnet) is `online`
 *   while its keep-alives arrive, `stale` after STALE_AFTER_KEEPALIVES periods without one,
 *   `offline` after OFFLINE_AFTER_KEEPALIVES, or at once on a `gone` notice from a member
 *   that lost it.
 */
import {
  FORGET_OFFLINE_AFTER_MS, keepAliveMs, MAX_RELAYED_AUTHORS_PER_PEER, MAX_VIEW_PEERS, OFFLINE_AFTER_KEEPALIVES, STALE_AFTER_KEEPALIVES
} from '../../protocols/limits.js'
import { applyChanges, type GossipMessage } from '../../protocols/gossip.js'
import { checkSummaryOrigin } from '../../protocols/summary.js'
import type { PeerEntry, PeerStatus, Summary } from '../../protocols/types.js'

interface ViewRecord {
  summary: Summary
  /** local clock when the peer was last heard from: a message, a pulled summary, a probe answer */
  lastSeen: number
  /** local clock when the connection to the peer last closed; undefined while connected or never */
  disconnectedAt?: number
  /** local clock of the first failed probe since the last answer */
  suspectSince?: number
  /** the peer said goodbye (and nothing newer came since) */
  left: boolean
  /** a gap was seen and the full summary is still to be pulled */
  behind: boolean
  /** the member that relayed this peer's first summary, while we have no connection to the peer */
  relayedBy?: string
}

/** `notNewer`: refused only because its sequence number is not above the one held (a replay, or a member that reset) */
export type AcceptResult = { accepted: true, isNew: boolean } | { accepted: false, reason: string, notNewer?: boolean, full?: boolean }
/** What a gossip message did to the view; `needFull` asks the caller to pull the full summary. */
export type MessageResult = { accepted: true, isNew: boolean, needFull: boolean } | { accepted: false, reason: string, forged: boolean, notNewer?: boolean, full?: boolean }

export type ViewEvent =
  | { type: 'peer:joined', peerId: string }
  | { type: 'peer:updated', peerId: string }
  | { type: 'peer:status', peerId: string, status: PeerStatus }

export interface Liveness {
  /** the keep-alive period of the mesh (it grows with the members) */
  keepAliveMs: number
  lastSeen: number
  connected: boolean
  disconnectedAt?: number
  suspectSince?: number
  left?: boolean
}

/** Status from the connection, probe and message history of a peer (pure). */
export function peerStatus (now: number, l: Liveness): PeerStatus {
  if (l.left === true) return 'offline'
  if (l.connected) return l.suspectSince !== undefined ? 'stale' : 'online'
  // a disconnect after the last thing heard means offline until something newer arrives
  if (l.disconnectedAt !== undefined && l.disconnectedAt >= l.lastSeen) return 'offline'
  const age = now - l.lastSeen
  if (age >= OFFLINE_AFTER_KEEPALIVES * l.keepAliveMs) return 'offline'
  if (age >= STALE_AFTER_KEEPALIVES * l.keepAliveMs) return 'stale'
  return 'online'
}

export class MeshView {
  private readonly records = new Map<string, ViewRecord>()
  private readonly selfId: string
  private readonly lastStatus = new Map<string, PeerStatus>()
  /** peers with an open direct connection (known before or after their first summary) */
  private readonly connectedPeers = new Set<string>()

  constructor (selfId: string) {
    this.selfId = selfId
  }

  /**
   * Offer a full summary received from `author` (the authenticated gossip author, or the
   * peer a summary was pulled from). Rejects a summary describing another node and a gossiped
   * one whose sequence is not newer. A summary pulled from the node it describes is its answer
   * now over an authenticated connection, which nobody can replay: it is taken whatever its
   * sequence, so a member whose numbers went back (issue 19 item 3a) is heard again.
   */
  offer (summary: Summary, author: string, now: number, pulled = false, relayedBy?: string): AcceptResult {
    // this node's own entry comes from setSelf only, never from the network
    if (summary.peerId === this.selfId) return { accepted: false, reason: 'summary describes this node' }
    const existing = this.records.get(summary.peerId)
    const lastSeq = existing === undefined || pulled ? undefined : existing.summary.seq
    const reason = checkSummaryOrigin(summary, author, lastSeq)
    if (reason !== undefined) return { accepted: false, reason, notNewer: summary.peerId === author && lastSeq !== undefined }
    // a summary pulled from the peer, or gossip from a peer we are connected to, is first-hand
    const direct = pulled || this.connectedPeers.has(summary.peerId) || relayedBy === undefined || relayedBy === summary.peerId
    if (existing === undefined) {
      if (!direct) {
        // one member cannot fill the view with authors nobody else vouches for (fresh keys are free)
        const n = this.relayedCount(relayedBy)
        if (n >= MAX_RELAYED_AUTHORS_PER_PEER) return { accepted: false, reason: `${relayedBy} already relayed ${n} peers this node has no connection to (at most ${MAX_RELAYED_AUTHORS_PER_PEER} per relaying peer)` }
      }
      if (!this.makeRoom(now, direct)) return { accepted: false, reason: `view is full (${MAX_VIEW_PEERS} peers) and ${summary.peerId} is not connected to this node`, full: true }
    }
    this.records.set(summary.peerId, {
      summary,
      lastSeen: now,
      disconnectedAt: existing?.disconnectedAt !== undefined && !this.connectedPeers.has(summary.peerId) ? existing.disconnectedAt : undefined,
      suspectSince: existing?.suspectSince,
      left: false,
      behind: false,
      relayedBy: direct ? undefined : existing?.relayedBy ?? relayedBy
    })
    return { accepted: true, isNew: existing === undefined }
  }

  /** Offer a message from the summary topic (see protocols/gossip.ts for the rules). */
  /** `relayedBy`: the member that forwarded the message to us (gossipsub's propagation source) */
  offerMessage (msg: GossipMessage, author: string, now: number, relayedBy?: string): MessageResult {
    if (msg.peerId !== author) return { accepted: false, reason: `message describes ${msg.peerId} but was authored by ${author}`, forged: true }
    if (msg.kind === 'full') {
      const r = this.offer(msg.summary, author, now, false, relayedBy)
      return r.accepted ? { accepted: true, isNew: r.isNew, needFull: false } : { accepted: false, reason: r.reason, forged: false, notNewer: r.notNewer, full: r.full }
    }
    if (msg.peerId === this.selfId) return { accepted: false, reason: 'message describes this node', forged: false }
    const rec = this.records.get(msg.peerId)
    if (rec === undefined) {
      // a peer we have no summary of: nothing to apply a delta to; its full summary is pulled
      return { accepted: true, isNew: false, needFull: msg.kind !== 'leave' }
    }
    if (msg.seq <= rec.summary.seq) return { accepted: false, reason: `sequence ${msg.seq} is not newer than ${rec.summary.seq}`, forged: false, notNewer: true }
    const gap = msg.prev !== rec.summary.seq
    if (msg.kind === 'gone') {
      // the reporter's own entry moves on (its sequence); the target is judged separately
      rec.summary = { ...rec.summary, seq: msg.seq, at: msg.at }
      rec.lastSeen = now
      if (gap) rec.behind = true
      return { accepted: true, isNew: false, needFull: rec.behind }
    }
    if (msg.kind === 'leave') {
      rec.summary = { ...rec.summary, seq: msg.seq, at: msg.at }
      rec.left = true
      rec.lastSeen = now
      return { accepted: true, isNew: false, needFull: false }
    }
    rec.summary = applyChanges(rec.summary, msg)
    rec.lastSeen = now
    rec.left = false
    if (gap) rec.behind = true
    return { accepted: true, isNew: false, needFull: rec.behind }
  }

  /** Our own summary enters the view directly. */
  setSelf (summary: Summary, now: number): void {
    this.records.set(this.selfId, { summary, lastSeen: now, left: false, behind: false })
  }

  connected (peerId: string, now?: number): void {
    this.connectedPeers.add(peerId)
    const rec = this.records.get(peerId)
    if (rec !== undefined) {
      rec.relayedBy = undefined
      rec.disconnectedAt = undefined
      rec.suspectSince = undefined
      if (now !== undefined) rec.lastSeen = Math.max(rec.lastSeen, now)
    }
  }

  disconnected (peerId: string, now: number): void {
    this.connectedPeers.delete(peerId)
    const rec = this.records.get(peerId)
    if (rec !== undefined) {
      rec.disconnectedAt = now
      rec.suspectSince = undefined
    }
  }

  /**
   * Another member reports `target` gone. Taken only for a target we have no direct connection
   * to (our own connection and probes know better) and heard from before the report.
   */
  reportedGone (target: string, now: number): boolean {
    if (target === this.selfId || this.connectedPeers.has(target)) return false
    const rec = this.records.get(target)
    if (rec === undefined) return false
    rec.disconnectedAt = now
    return true
  }

  /** The peer said goodbye and nothing newer came from it. */
  hasLeft (peerId: string): boolean {
    return this.records.get(peerId)?.left === true
  }

  isConnected (peerId: string): boolean {
    return this.connectedPeers.has(peerId)
  }

  /** A probe answered: the peer is alive now. */
  probeOk (peerId: string, now: number): void {
    const rec = this.records.get(peerId)
    if (rec === undefined) return
    rec.suspectSince = undefined
    rec.lastSeen = Math.max(rec.lastSeen, now)
  }

  /** A probe failed: the peer is suspect (stale) until it answers or its connection drops. */
  probeFailed (peerId: string, now: number): void {
    const rec = this.records.get(peerId)
    if (rec !== undefined) rec.suspectSince ??= now
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
    return peerStatus(now, { ...rec, connected: this.connectedPeers.has(peerId), keepAliveMs: keepAliveMs(this.records.size) })
  }

  /** Peer ids of the members in the view (not this node). */
  members (): string[] {
    return [...this.records.keys()].filter(id => id !== this.selfId)
  }

  /**
   * Entries in the shape of `procmesh peers --json`, self first, then by name. `now` is the
   * view's (monotonic) clock; `toWall` turns its times into the wall clock for `lastSeen`.
   */
  entries (now: number, toWall: (t: number) => number = t => t): PeerEntry[] {
    const out: PeerEntry[] = []
    for (const [peerId, rec] of this.records) {
      const s = rec.summary
      out.push({
        peerId,
        name: s.name,
        status: this.status(peerId, now) ?? 'offline',
        lastSeen: toWall(rec.lastSeen),
        tags: s.tags,
        addrs: s.addrs,
        self: peerId === this.selfId,
        host: s.host,
        procCount: s.procCount,
        version: s.version,
        topCpu: s.topCpu,
        topMem: s.topMem,
        intervalMs: s.intervalMs
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
      if (peerId !== this.selfId && !this.connectedPeers.has(peerId) && now - rec.lastSeen > FORGET_OFFLINE_AFTER_MS) {
        this.records.delete(peerId)
        this.lastStatus.delete(peerId)
      }
    }
  }

  /** Peers in the view first relayed by `relayer` that we still have no connection to. */
  private relayedCount (relayer: string | undefined): number {
    let n = 0
    for (const [id, rec] of this.records) if (rec.relayedBy === relayer && !this.connectedPeers.has(id)) n++
    return n
  }

  /**
   * Room for one more peer: forget long-offline peers first. A peer heard first-hand (`direct`:
   * connected, or its summary pulled from it) then takes the place of the least useful peer we
   * are not connected to (offline, then stale, then online; the longest unheard first): a view
   * full of relayed strangers never hides a member that is connected to us (issue 17 finding 6).
   */
  private makeRoom (now: number, direct: boolean): boolean {
    if (this.records.size < MAX_VIEW_PEERS) return true
    this.forget(now)
    if (this.records.size < MAX_VIEW_PEERS) return true
    if (!direct) return false
    const rank: Record<PeerStatus, number> = { offline: 0, stale: 1, online: 2 }
    let victim: string | undefined
    let best: [number, number] | undefined
    for (const [id, rec] of this.records) {
      if (id === this.selfId || this.connectedPeers.has(id)) continue
      const key: [number, number] = [rank[this.status(id, now) ?? 'offline'], rec.lastSeen]
      if (best === undefined || key[0] < best[0] || (key[0] === best[0] && key[1] < best[1])) { best = key; victim = id }
    }
    if (victim === undefined) return false
    this.records.delete(victim)
    this.lastStatus.delete(victim)
    return true
  }

  get size (): number {
    return this.records.size
  }
}
