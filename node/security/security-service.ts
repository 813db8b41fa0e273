/**
 * The security layer's part bound to libp2p, started and stopped with the node: the audit
 * and claim protocols, the agent that claims the invites this node joined with, the poll
 * that picks up a trust file edited by hand, the hang-up of peers the trust file blocks, and the
 * receiving end of `rotate-key` (protocols/rotate-key.ts).
 */
import { ProcmeshError, errorMessage } from '../../protocols/errors.js'
import { ROTATE_KEY, ROTATE_SWITCH_DELAY_MS } from '../../protocols/rotate-key.js'
import { AUDIT, CLAIM } from '../../protocols/messages.js'
import type { ProcmeshLibp2p } from '../mesh/libp2p.js'
import { serveProtocol, type ServeOptions } from '../mesh/reqresp.js'
import { describePeer } from './authorizer.js'
import { ClaimAgent, redeemInvite } from './invite.js'
import type { NodeSecurity } from './security.js'
import type { TrustFile } from './trust-store.js'
import { meshFingerprint, writeSwarmKey } from './swarm-key.js'

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
  private readonly requestRestart: (reason: string) => void
  private served = false
  private poll?: NodeJS.Timeout
  private switchTimer?: NodeJS.Timeout

  /** `requestRestart`: the node is rebuilt (with the key now in its home) once the key changed */
  constructor (sec: NodeSecurity, libp2p: ProcmeshLibp2p, requestRestart: (reason: string) => void) {
    this.sec = sec
    this.libp2p = libp2p
    this.requestRestart = requestRestart
    this.claimAgent = new ClaimAgent({ store: sec.trust, libp2p, log: sec.log })
    this.serveOptions = sec.serveOptions()
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
    await serveProtocol(this.libp2p, ROTATE_KEY, async (req, ctx) => {
      const by = ctx.remotePeer.toString()
      const who = describePeer(by, sec.nameOf(by))
      const mesh = meshFingerprint(req.key)
      try {
        await writeSwarmKey(sec.swarmKeyFile, req.key)
      } catch (err: unknown) {
        sec.audit.record(sec.entry('rotate-key', by, { decision: 'denied', reason: `new mesh ${mesh} from ${who}: cannot store the key: ${errorMessage(err)}` }))
        throw new ProcmeshError('SERVER_ERROR', `cannot store the new mesh key: ${errorMessage(err)}`)
      }
      sec.audit.record(sec.entry('rotate-key', by, { decision: 'allowed', reason: `mesh key rotated by ${who} (holds exec): mesh ${sec.mesh} -> ${mesh}`, result: `switching in ${ROTATE_SWITCH_DELAY_MS} ms` }))
      sec.log.warn('%s rotated the mesh key: mesh %s -> %s; switching in %d ms', who, sec.mesh, mesh, ROTATE_SWITCH_DELAY_MS)
      this.switchAfter(ROTATE_SWITCH_DELAY_MS, `the mesh key was rotated by ${who} (mesh ${mesh})`)
      return { mesh, switchInMs: ROTATE_SWITCH_DELAY_MS }
    }, this.serveOptions)
    this.claimAgent.start()
    this.poll = setInterval(() => { sec.trust.refresh() }, TRUST_POLL_MS)
    this.poll.unref()
  }

  async stop (): Promise<void> {
    if (!this.served) return
    this.served = false
    clearInterval(this.poll)
    clearTimeout(this.switchTimer)
    this.claimAgent.stop()
    await this.libp2p.unhandle([AUDIT.id, CLAIM.id, ROTATE_KEY.id])
  }

  /** Rebuild the node on the key now in its home after `delayMs` (answers and hand-overs finish first). */
  switchAfter (delayMs: number, reason: string): void {
    clearTimeout(this.switchTimer)
    this.switchTimer = setTimeout(() => { this.requestRestart(reason) }, delayMs)
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
