/**
 * The security layer's part bound to libp2p, started and stopped with the node: the audit
 * and claim protocols, the agent that claims the invites this node joined with, the poll
 * that picks up a trust file edited by hand, and the hang-up of peers the trust file blocks.
 */
import { errorMessage } from '../../protocols/errors.js'
import { AUDIT, CLAIM } from '../../protocols/messages.js'
import type { ProcmeshLibp2p } from '../mesh/libp2p.js'
import { serveProtocol, type ServeOptions } from '../mesh/reqresp.js'
import { describePeer } from './authorizer.js'
import { ClaimAgent, redeemInvite } from './invite.js'
import type { NodeSecurity } from './security.js'
import type { TrustFile } from './trust-store.js'

/** Audit entries `procmesh audit` shows unless --limit says otherwise. */
export const DEFAULT_AUDIT_LIMIT = 50
/**
 * Every request checks the trust file anyway; this poll (one stat) only makes a block
 * written by hand hang up a peer that sends no requests, within a second.
 */
export const TRUST_POLL_MS = 1000

export class SecurityService {
  readonly label = 'security'
  private readonly sec: NodeSecurity
  private readonly libp2p: ProcmeshLibp2p
  private readonly claimAgent: ClaimAgent
  private readonly serveOptions: ServeOptions
  private served = false
  private poll?: NodeJS.Timeout

  constructor (sec: NodeSecurity, libp2p: ProcmeshLibp2p) {
    this.sec = sec
    this.libp2p = libp2p
    this.claimAgent = new ClaimAgent({ store: sec.trust, libp2p, log: sec.log })
    this.serveOptions = { authorize: sec.authorize, log: sec.log, onDenied: sec.onDenied }
    sec.trust.onChange(tf => { if (this.served) this.hangUpBlocked(tf) })
  }

  async start (): Promise<void> {
    if (this.served) return
    this.served = true
    const sec = this.sec
    await serveProtocol(this.libp2p, AUDIT, async req => ({ entries: sec.audit.read(req.limit ?? DEFAULT_AUDIT_LIMIT) }), this.serveOptions)
    await serveProtocol(this.libp2p, CLAIM, async (req, ctx) => {
      const peerId = ctx.remotePeer.toString()
      try {
        const role = redeemInvite(sec.trust, req.secret, peerId, sec.nameOf(peerId))
        sec.audit.record(sec.entry('claim', peerId, { subject: peerId, role, decision: 'allowed', reason: 'presented the secret of an invite of this node' }))
        sec.log.info('%s claimed an invite: it now holds %s here', describePeer(peerId, sec.nameOf(peerId)), role)
        return { role, name: sec.nodeName }
      } catch (err: unknown) {
        sec.audit.record(sec.entry('claim', peerId, { subject: peerId, decision: 'denied', reason: errorMessage(err) }))
        throw err
      }
    }, this.serveOptions)
    this.claimAgent.start()
    this.poll = setInterval(() => { sec.trust.refresh() }, TRUST_POLL_MS)
    this.poll.unref()
  }

  async stop (): Promise<void> {
    if (!this.served) return
    this.served = false
    clearInterval(this.poll)
    this.claimAgent.stop()
    await this.libp2p.unhandle([AUDIT.id, CLAIM.id])
  }

  /** Revocation of a connection: peers whose role became none are hung up at once. */
  private hangUpBlocked (tf: TrustFile): void {
    for (const conn of this.libp2p.getConnections()) {
      const id = conn.remotePeer.toString()
      if (tf.peers[id]?.role !== 'none') continue
      this.sec.log.info('hanging up on %s: blocked by the trust file', describePeer(id, this.sec.nameOf(id)))
      this.libp2p.hangUp(conn.remotePeer).catch((err: unknown) => { this.sec.log.warn('hang-up of %s failed: %s', id, errorMessage(err)) })
    }
  }
}
