/**
 * Keeps gossip two-way when one of several connections to a peer closes (issue 17 finding 17,
 * issue 19 item 6).
 *
 * Root cause: gossipsub (@libp2p/gossipsub 17) keeps ONE outbound stream per peer, opened on
 * the connection it was told about first, and opens another only when the registrar reports
 * the peer connected again (after identify) or the peer opens a new stream to it. Two
 * connections under one peer id are common: simultaneous dials, a token's bare address and
 * an mDNS answer dialled at once (libp2p then aborts the second connection to the same
 * address as a "Duplicate multiaddr connection" after both sides saw it open), or a member
 * that opens a second connection and closes the first. When the connection carrying the
 * streams closes while another stays open, libp2p emits no `peer:disconnect`, so gossipsub
 * never replaces the lost stream (and an aborted inbound stream makes it drop the peer
 * altogether): the peer is silently deaf to us, or we to it, and sees the mesh offline until
 * a restart.
 *
 * Repair: when a connection to a peer closes and another open one remains, identify the peer
 * again on the remaining connection once the closed connection's streams have settled.
 * Identify's `peer:identify` makes the registrar tell gossipsub the peer is connected, and
 * gossipsub then re-adds the peer and opens a fresh outbound stream if it lost its own (a
 * no-op otherwise); the new stream carries our subscriptions, and the peer answers a new
 * inbound stream the same way. Both sides of the closed connection do this, so either side
 * heals both directions. Costs one identify round trip per closed duplicate.
 */
import type { Connection } from '@libp2p/interface'
import { errorMessage } from '../../protocols/errors.js'
import { GOSSIP_HEAL_SETTLE_MS } from '../../protocols/limits.js'
import type { Logger } from '../logger.js'
import type { ProcmeshLibp2p } from './libp2p.js'

export class GossipHealer {
  private readonly libp2p: ProcmeshLibp2p
  private readonly log: Logger
  private readonly settleMs: number
  private running = false
  private readonly pending = new Map<string, NodeJS.Timeout>()
  /** repairs done (tests read it) */
  healed = 0

  constructor (libp2p: ProcmeshLibp2p, log: Logger, settleMs = GOSSIP_HEAL_SETTLE_MS) {
    this.libp2p = libp2p
    this.log = log
    this.settleMs = settleMs
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.libp2p.addEventListener('connection:close', this.onClose)
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.libp2p.removeEventListener('connection:close', this.onClose)
    for (const t of this.pending.values()) clearTimeout(t)
    this.pending.clear()
  }

  private readonly onClose = (evt: CustomEvent<Connection>): void => {
    const peer = evt.detail.remotePeer
    const key = peer.toString()
    if (this.remaining(evt.detail) === undefined || this.pending.has(key)) return
    // after the closed connection's streams have ended (an aborted inbound stream makes
    // gossipsub drop the peer; the repair must come after that, not before)
    const timer = setTimeout(() => {
      this.pending.delete(key)
      const conn = this.remaining(evt.detail)
      if (!this.running || conn === undefined) return
      this.libp2p.services.identify.identify(conn, { signal: AbortSignal.timeout(this.settleMs * 20) }).then(() => {
        this.healed++
        this.log.debug('connection %s to %s closed, %s remains: gossip streams renewed on it', evt.detail.id, key, conn.id)
      }, (err: unknown) => {
        this.log.debug('renewing gossip with %s after a closed duplicate connection failed: %s', key, errorMessage(err))
      })
    }, this.settleMs)
    timer.unref()
    this.pending.set(key, timer)
  }

  /** Another open connection to the same peer (the oldest), if any. */
  private remaining (closed: Connection): Connection | undefined {
    return this.libp2p.getConnections(closed.remotePeer)
      .filter(c => c.id !== closed.id && c.status === 'open')
      .sort((a, b) => a.timeline.open - b.timeline.open)[0]
  }
}
