/**
 * The security layer of a node, the part that exists before libp2p does: the mesh key
 * (pnet), the trust file, the start policy, the audit log, the connection gater and the
 * authoriser of the mesh protocols. `openNodeSecurity` reads the files, then constructs.
 *
 * Where each check happens:
 * - connection: pnet (no key, no connection) and the gater (blocked peers);
 * - list/history/logs/audit: the authoriser in serveProtocol (read);
 * - start/stop: the guard (guard.ts), because the audit line needs the argv or pid. Both
 *   doors end there: a mesh request (requestedBy = the authenticated remote peer) and a
 *   control-socket request (requestedBy = this node: full rights on itself). The
 *   authoriser only asks read of them, so the guard is the single decision.
 *
 * The parts bound to libp2p are elsewhere: security-service.ts (audit and claim protocols,
 * claims, hang-ups), connection-reports.ts (refused connections and failed handshakes),
 * security-methods.ts (the control methods `trust.*`, `invite`, `audit`).
 */
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { AuditEntry, AuditEvent } from '../../protocols/audit.js'
import type { Authorizer, ServeOptions } from '../mesh/reqresp.js'
import type { HomePaths } from '../setup/home.js'
import type { Logger } from '../logger.js'
import { AuditLog, auditId } from './audit-log.js'
import { createAuthorizer } from './authorizer.js'
import { InboundAdmission } from './admission.js'
import { ConnectionReports } from './connection-reports.js'
import { currentLocalCaller } from '../control/local-caller.js'
import { createGater } from './gater.js'
import { START, STOP } from '../../protocols/messages.js'
import { StartPolicyFile } from './start-policy.js'
import { loadOrCreateSwarmKey, meshFingerprint } from './swarm-key.js'
import { TrustStore } from './trust-store.js'

export interface SecurityInit {
  paths: HomePaths
  nodeName: string
  /** this node's peer id (known from its key before libp2p exists) */
  selfId: string
  /** the mesh view's name of a peer */
  viewName: (peerId: string) => string | undefined
  readonly: boolean
  /** an explicit --policy file (must exist); else policy.json in the home, if present */
  policyFile?: string
  /** the PATH the node starts processes with (its spawn environment's); commands are resolved on it */
  spawnPath?: string
  /** hosts known to be members before any handshake (--bootstrap): they keep their handshake slots */
  knownAddrs?: readonly string[]
  log: Logger
}

/** The control API's trust and audit answers are declared with the API, in protocols/control.ts. */
export type { AuditTargetEntry, TrustListEntry, TrustListResult } from '../../protocols/control.js'
export { hostOf } from './connection-reports.js'

/** Load (or create) the mesh key, the trust file and the start policy; errors name the file. */
export async function openNodeSecurity (init: SecurityInit): Promise<NodeSecurity> {
  const key = await loadOrCreateSwarmKey(init.paths.swarmKey)
  const mesh = meshFingerprint(key.hex)
  if (key.created) init.log.info('created a new mesh %s (swarm key %s, mode 0600): invite other hosts with procmesh invite', mesh, init.paths.swarmKey)
  else init.log.info('mesh %s (swarm key %s)', mesh, init.paths.swarmKey)
  if (key.tightened) init.log.warn('swarm key %s was readable by other users; its mode is now 0600', init.paths.swarmKey)
  const trust = new TrustStore(init.paths.trust, init.log)
  trust.load()
  const policy = new StartPolicyFile(init.policyFile ?? init.paths.policy, { required: init.policyFile !== undefined, log: init.log })
  const p = policy.load()
  if (p.start !== 'any' || p.deny.length > 0) init.log.info('start policy %s: %s, %d allow and %d deny rules', policy.file, p.start, p.allow.length, p.deny.length)
  if (init.readonly) init.log.info('read-only: this node refuses every start and stop')
  return new NodeSecurity(init, { hex: key.hex, psk: key.psk, mesh }, trust, policy)
}

export class NodeSecurity {
  readonly trust: TrustStore
  readonly audit: AuditLog
  readonly policy: StartPolicyFile
  readonly gater: ConnectionGater
  /** the swarm key file content, for preSharedKey({ psk }) */
  readonly psk: Uint8Array
  /** short non-secret name of the mesh */
  readonly mesh: string
  /** the swarm key in hex, for invites (never logged) */
  readonly swarmKeyHex: string
  /** the swarm key file (rotate-key writes the next key there) */
  readonly swarmKeyFile: string
  readonly selfId: string
  readonly nodeName: string
  readonly readonly: boolean
  readonly spawnPath: string | undefined
  readonly log: Logger
  /** pending-handshake limits; known hosts keep their slots (admission.ts) */
  readonly admission: InboundAdmission
  /** refused connections and failed handshakes in the log and the audit (a node part) */
  readonly reports: ConnectionReports
  /** the Authorizer of the mesh protocols (start and stop are decided in the guard) */
  readonly authorize: Authorizer
  private readonly viewName: (peerId: string) => string | undefined
  private readonly knownAddrs: readonly string[]

  constructor (init: SecurityInit, key: { hex: string, psk: Uint8Array, mesh: string }, trust: TrustStore, policy: StartPolicyFile) {
    this.log = init.log
    this.selfId = init.selfId
    this.nodeName = init.nodeName
    this.readonly = init.readonly
    this.spawnPath = init.spawnPath
    this.viewName = init.viewName
    this.knownAddrs = init.knownAddrs ?? []
    this.swarmKeyHex = key.hex
    this.swarmKeyFile = init.paths.swarmKey
    this.psk = key.psk
    this.mesh = key.mesh
    this.trust = trust
    this.policy = policy
    this.audit = new AuditLog(init.paths.audit, { log: init.log })
    this.admission = new InboundAdmission(() => this.memberAddrs())
    this.reports = new ConnectionReports({ audit: this.audit, log: init.log, nameOf: id => this.nameOf(id), entry: (event, peerId, fields) => this.entry(event, peerId, fields) })
    this.gater = createGater({
      admission: this.admission,
      isBlocked: peerId => this.trust.entry(peerId)?.role === 'none',
      isKnownPeer: peerId => this.trust.entry(peerId) !== undefined,
      onRefused: e => { this.reports.refused(e) },
      onHandshakeFailed: f => { this.reports.handshakeFailed(f) }
    })
    this.authorize = createAuthorizer({
      selfId: () => this.selfId,
      nodeName: init.nodeName,
      entryRole: peerId => this.trust.entry(peerId)?.role,
      nameOf: peerId => this.nameOf(peerId),
      checkedInHandler: new Set([START.id, STOP.id])
    })
  }

  /** The peer's name: the mesh view's, else the trust file's. */
  nameOf (peerId: string): string | undefined {
    if (peerId === this.selfId) return this.nodeName
    return this.viewName(peerId) ?? this.trust.entry(peerId)?.name
  }

  /** Hosts known to be members before any handshake: trust entries' addresses and --bootstrap ones. */
  private memberAddrs (): string[] {
    return [...this.knownAddrs, ...Object.values(this.trust.data.peers).flatMap(e => e.addrs ?? [])]
  }

  /** Addresses of join admins, dialled like --bootstrap ones. */
  bootstrapAddrs (): string[] {
    return Object.values(this.trust.data.peers).flatMap(e => e.source === 'join' ? e.addrs ?? [] : [])
  }

  /**
   * What every mesh protocol is served with: the authoriser, and the audit of every request
   * refused by it or at validation (a malformed start is a refusal the audit shows too).
   */
  serveOptions (): ServeOptions {
    return {
      authorize: this.authorize,
      log: this.log,
      onDenied: (remotePeer, protocol, reason) => { this.refusedRequest(remotePeer, `${protocol}: ${reason}`) },
      onInvalid: (remotePeer, protocol, reason) => { this.refusedRequest(remotePeer, `${protocol}: invalid request: ${reason}`) }
    }
  }

  private refusedRequest (remotePeer: PeerId, reason: string): void {
    this.audit.record(this.entry('request', remotePeer.toString(), { decision: 'denied', reason }))
  }

  /** The local user behind a control-socket request of this node (uid, name, pid), for its audit line. */
  async localCaller (requestedBy: string | null): Promise<Pick<AuditEntry, 'localUid' | 'localUser' | 'localPid'>> {
    if (requestedBy !== this.selfId) return {}
    const c = await currentLocalCaller()
    return c === undefined ? {} : { localUid: c.uid, ...(c.user !== undefined ? { localUser: c.user } : {}), localPid: c.pid }
  }

  /** An audit entry about `peerId` (null: nobody asked), named and marked local or mesh. */
  entry (event: AuditEvent, peerId: string | null, fields: Partial<AuditEntry> & Pick<AuditEntry, 'decision' | 'reason'>): AuditEntry {
    const local = peerId !== null && peerId === this.selfId
    return {
      id: auditId(),
      time: Date.now(),
      event,
      peerId,
      name: peerId !== null ? this.nameOf(peerId) ?? null : null,
      via: local ? 'local' : 'mesh',
      ...fields
    }
  }
}
