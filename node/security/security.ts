/**
 * The security layer of a node, assembled in one place: the mesh key (pnet), the
 * connection gater, the trust file, the authoriser of the mesh protocols, the guard
 * around process control (roles, --readonly, start policy, audit), the audit log and
 * its protocol, invites and claims, and the control methods `trust.*`, `invite`,
 * `audit`.
 *
 * Where each check happens:
 * - connection: pnet (no key, no connection) and the gater (blocked peers);
 * - list/history/logs/audit: the authoriser in serveProtocol (read);
 * - start/stop: the guard, because the audit line needs the argv or pid. Both doors
 *   end there: a mesh request (requestedBy = the authenticated remote peer) and a
 *   control-socket request (requestedBy = this node: full rights on itself). The
 *   authoriser only asks read of them, so the guard is the single decision.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import { clipArgv, type AuditEntry, type AuditEvent } from '../../protocols/audit.js'
import { CONTROL_API } from '../../protocols/control-api.js'
import type { AuditTargetEntry, TrustListResult } from '../../protocols/control.js'
import { findManaged } from '../../protocols/managed.js'
import { ProcmeshError, errorMessage, toProcmeshError } from '../../protocols/errors.js'
import { AUDIT, CLAIM, START, STOP, type AuditResult } from '../../protocols/messages.js'
import type { PeerEntry } from '../../protocols/types.js'
import type { Role } from '../../protocols/wire.js'
import { AuditLog, auditId, AuditWriteError } from './audit-log.js'
import { checkRole, createAuthorizer, describePeer, effectiveRole } from './authorizer.js'
import { handle, type RpcHandler } from '../control/control-server.js'
import { InboundAdmission } from './admission.js'
import { createGater, describeHandshakeFailure, type FailedHandshake, type RefusedConnection } from './gater.js'
import type { HomePaths } from '../setup/home.js'
import type { ProcessControl } from '../host/host-services.js'
import { ClaimAgent, createInvite, redeemInvite } from './invite.js'
import type { ProcmeshLibp2p } from '../mesh/libp2p.js'
import type { Logger } from '../logger.js'
import { request, serveProtocol, type Authorizer, type ServeOptions } from '../mesh/reqresp.js'
import { DEFAULT_NODE_PATH, StartPolicyFile } from './start-policy.js'
import { execFacts } from './exec-check.js'
import { loadOrCreateSwarmKey, meshFingerprint } from './swarm-key.js'
import { resolveTargets } from '../mesh/targets.js'
import { TrustStore, type TrustFile } from './trust-store.js'

/** One log line (and audit line) per remote host per this interval for failed handshakes: a
 * stranger re-dialling every second must not flood the log or rotate real decisions away. */
export const HANDSHAKE_FAILURE_REPORT_INTERVAL_MS = 60_000
/** Remote hosts whose failures are being counted; past it the oldest is forgotten. */
export const MAX_TRACKED_FAILURE_SOURCES = 1024
/** Audit entries `procmesh audit` shows unless --limit says otherwise. */
export const DEFAULT_AUDIT_LIMIT = 50
/** Per-peer timeout of a fan-out audit query. */
export const AUDIT_FAN_OUT_TIMEOUT_MS = 10_000
/**
 * Every request checks the trust file anyway; this poll (one stat) only makes a block
 * written by hand hang up a peer that sends no requests, within a second.
 */
export const TRUST_POLL_MS = 1000

export interface SecurityInit {
  paths: HomePaths
  nodeName: string
  readonly: boolean
  /** an explicit --policy file (must exist); else policy.json in the home, if present */
  policyFile?: string
  /** the PATH the node starts processes with (its spawn environment's); commands are resolved on it */
  spawnPath?: string
  log: Logger
}

/** The control API's trust and audit answers are declared with the API, in protocols/control.ts. */
export type { AuditTargetEntry, TrustListEntry, TrustListResult } from '../../protocols/control.js'

/** cwd of a start whose request names none (the supervisor's default). */
export const START_DEFAULT_CWD = '/'

/** The remote host part of a multiaddr (`/ip4/1.2.3.4`), the unit of failure rate limiting. */
export function hostOf (addr: string): string {
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+/.exec(addr)
  return m !== null ? m[0] : addr
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
  private readonly swarmKeyHex: string
  private readonly init: SecurityInit
  private readonly log: Logger
  private libp2pNode?: ProcmeshLibp2p
  private selfId = ''
  private viewName: (peerId: string) => string | undefined = () => undefined
  private claimAgent?: ClaimAgent
  private readonly failures = new Map<string, { last: number, suppressed: number }>()
  /** pending-handshake limits; known hosts keep their slots (admission.ts) */
  readonly admission: InboundAdmission
  private readonly extraKnown = new Set<string>()
  private served = false
  private poll?: NodeJS.Timeout
  /** the Authorizer of the mesh protocols (start and stop are decided in guard) */
  readonly authorize: Authorizer

  private constructor (init: SecurityInit, key: { hex: string, psk: Uint8Array }) {
    this.init = init
    this.log = init.log
    this.swarmKeyHex = key.hex
    this.psk = key.psk
    this.mesh = meshFingerprint(key.hex)
    this.trust = new TrustStore(init.paths.trust, init.log)
    this.audit = new AuditLog(init.paths.audit, { log: init.log })
    this.policy = new StartPolicyFile(init.policyFile ?? init.paths.policy, { required: init.policyFile !== undefined, log: init.log })
    this.admission = new InboundAdmission(() => this.knownAddrs())
    this.gater = createGater({
      admission: this.admission,
      isBlocked: peerId => this.trust.entry(peerId)?.role === 'none',
      isKnownPeer: peerId => this.trust.entry(peerId) !== undefined,
      onRefused: e => { this.connectionRefused(e) },
      onHandshakeFailed: f => { this.handshakeFailed(f) }
    })
    this.authorize = createAuthorizer({
      selfId: () => this.selfId,
      nodeName: init.nodeName,
      entryRole: peerId => this.trust.entry(peerId)?.role,
      nameOf: peerId => this.nameOf(peerId),
      checkedInHandler: new Set([START.id, STOP.id])
    })
  }

  /** Load (or create) the mesh key, the trust file and the start policy; errors name the file. */
  static async open (init: SecurityInit): Promise<NodeSecurity> {
    const key = await loadOrCreateSwarmKey(init.paths.swarmKey)
    const security = new NodeSecurity(init, key)
    if (key.created) init.log.info('created a new mesh %s (swarm key %s, mode 0600): invite other hosts with procmesh invite', security.mesh, init.paths.swarmKey)
    else init.log.info('mesh %s (swarm key %s)', security.mesh, init.paths.swarmKey)
    if (key.tightened) init.log.warn('swarm key %s was readable by other users; its mode is now 0600', init.paths.swarmKey)
    security.trust.load()
    const policy = security.policy.load()
    if (policy.start !== 'any' || policy.deny.length > 0) init.log.info('start policy %s: %s, %d allow and %d deny rules', security.policy.file, policy.start, policy.allow.length, policy.deny.length)
    if (init.readonly) init.log.info('read-only: this node refuses every start and stop')
    security.trust.onChange(tf => { security.hangUpBlocked(tf) })
    return security
  }

  /** Bind to the node's libp2p and mesh view once they exist. */
  attach (deps: { libp2p: ProcmeshLibp2p, nameOf: (peerId: string) => string | undefined }): void {
    this.libp2pNode = deps.libp2p
    this.selfId = deps.libp2p.peerId.toString()
    this.viewName = deps.nameOf
  }

  private get libp2p (): ProcmeshLibp2p {
    if (this.libp2pNode === undefined) throw new Error('security layer not attached to a libp2p node')
    return this.libp2pNode
  }

  /** The peer's name: the mesh view's, else the trust file's. */
  nameOf (peerId: string): string | undefined {
    if (peerId === this.selfId) return this.init.nodeName
    return this.viewName(peerId) ?? this.trust.entry(peerId)?.name
  }

  /** Hosts known to be members before any handshake: trust entries' addresses, and those given here (--bootstrap). */
  addKnownAddrs (addrs: readonly string[]): void {
    for (const a of addrs) this.extraKnown.add(a)
  }

  private knownAddrs (): string[] {
    return [...this.extraKnown, ...Object.values(this.trust.data.peers).flatMap(e => e.addrs ?? [])]
  }

  /** Addresses of join admins, dialled like --bootstrap ones. */
  bootstrapAddrs (): string[] {
    return Object.values(this.trust.data.peers).flatMap(e => e.source === 'join' ? e.addrs ?? [] : [])
  }

  /** serveProtocol's onDenied: a request refused by the authoriser. */
  readonly onDenied = (remotePeer: PeerId, protocol: string, reason: string): void => {
    const peerId = remotePeer.toString()
    this.audit.record(this.entry('request', peerId, { decision: 'denied', reason: `${protocol}: ${reason}` }))
  }

  private serveOptions (): ServeOptions {
    return { authorize: this.authorize, log: this.log, onDenied: this.onDenied }
  }

  private entry (event: AuditEvent, peerId: string | null, fields: Partial<AuditEntry> & Pick<AuditEntry, 'decision' | 'reason'>): AuditEntry {
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

  // ---- start and stop: roles, --readonly, start policy, audit ----

  /**
   * Wrap process control (looked up at call time, so whoever installs the supervisor
   * later is guarded too).
   */
  guard (current: () => ProcessControl): ProcessControl {
    return {
      start: async (req, requestedBy) => {
        const spawnPath = this.init.spawnPath ?? DEFAULT_NODE_PATH
        // what would really run, and the env that steers where programs are found: audited either way
        const facts = execFacts(req, spawnPath, START_DEFAULT_CWD)
        const base = this.entry('start', requestedBy, { decision: 'denied', reason: '', argv: clipArgv(req.argv), ...(req.env !== undefined ? { envKeys: Object.keys(req.env) } : {}), ...(req.cwd !== undefined ? { cwd: req.cwd } : {}), ...facts })
        return await this.decide(base, requestedBy, 'exec', () => {
          const d = this.policy.check(req, spawnPath)
          return d.allowed ? { rule: d.rule } : { refused: d.reason }
        }, async () => await current().start(req, requestedBy), r => `started pid ${r.pid} (managed id ${r.managedId})`, 'not started')
      },
      stop: async (req, requestedBy) => {
        const base = this.entry('stop', requestedBy, { decision: 'denied', reason: '', pid: req.pid, signal: req.signal })
        return await this.decide(base, requestedBy, 'control', () => ({}), async () => await current().stop(req, requestedBy),
          r => `${r.result}${r.signalled.length > 0 ? ` (signalled ${r.signalled.join(', ')})` : ''}`, 'not signalled')
      },
      restart: async (req, requestedBy) => {
        // the command that runs again is the record's: the start policy judges it as it is now
        const record = findManaged(current().managed(), req.ref)
        const base = this.entry('restart', requestedBy, { decision: 'denied', reason: '', ...(record !== undefined ? { managedId: record.managedId, argv: clipArgv(record.argv) } : {}) })
        return await this.decide(base, requestedBy, 'exec', () => {
          if (record === undefined) return {}
          const d = this.policy.check(record.argv)
          return d.allowed ? { rule: d.rule } : { refused: d.reason }
        }, async () => await current().restart(req, requestedBy), r => `restarted: pid ${r.pid} (managed id ${r.managedId})`, 'not restarted')
      },
      remove: async (req, requestedBy) => {
        const record = findManaged(current().managed(), req.ref)
        const base = this.entry('remove', requestedBy, { decision: 'denied', reason: '', ...(record !== undefined ? { managedId: record.managedId, pid: record.pid } : {}) })
        return await this.decide(base, requestedBy, 'control', () => ({}), async () => await current().remove(req, requestedBy),
          r => `removed ${r.managedId}${r.stopped ? ' (its process was stopped)' : ''}`, 'not removed')
      },
      logs: async (req, onChunk, signal) => await current().logs(req, onChunk, signal),
      managedByPid: () => current().managedByPid(),
      managed: () => current().managed()
    }
  }

  /**
   * What the supervisor did on its own (an exit, a restart by policy, a crash loop), in the audit
   * log: nobody asked, so the peer is null (or the peer whose request caused it).
   */
  recordSupervisorEvent (event: 'exit' | 'restart', fields: { by: string | null, managedId: string, pid: number, reason: string, result: string, argv?: string[] }): void {
    this.audit.record(this.entry(event, fields.by, {
      decision: 'allowed',
      reason: fields.reason,
      result: fields.result,
      managedId: fields.managedId,
      pid: fields.pid,
      ...(fields.argv !== undefined ? { argv: clipArgv(fields.argv) } : {})
    }))
  }

  private async decide<T> (base: AuditEntry, requestedBy: string, needed: Role, policy: () => { rule?: string, refused?: string },
    act: () => Promise<T>, describe: (result: T) => string, nothingDone: string): Promise<T> {
    const local = requestedBy === this.selfId
    const granted = effectiveRole(requestedBy, this.selfId, this.trust.entry(requestedBy)?.role)
    const deny = (code: 'FORBIDDEN' | 'REFUSED', reason: string): never => {
      this.audit.record({ ...base, decision: 'denied', reason, result: nothingDone })
      throw new ProcmeshError(code, reason)
    }
    const forbidden = checkRole({ peerId: requestedBy, name: base.name ?? undefined, granted, needed, nodeName: this.init.nodeName })
    if (forbidden !== undefined) deny('FORBIDDEN', forbidden)
    if (this.init.readonly) deny('REFUSED', `refused: ${this.init.nodeName} is read-only (--readonly): it starts and stops nothing, whatever the trust file says`)
    const p = policy()
    if (p.refused !== undefined) deny('REFUSED', p.refused)
    const reason = `${local ? 'local control socket (this node)' : `holds ${granted}`}${p.rule !== undefined ? `; start policy rule "${p.rule}"` : ''}`
    const allowed: AuditEntry = { ...base, decision: 'allowed', reason, result: 'pending' }
    try {
      // recorded before acting: no start or stop happens that the log does not show
      this.audit.append(allowed)
    } catch (err: unknown) {
      const msg = err instanceof AuditWriteError ? err.message : errorMessage(err)
      this.log.error('%s', msg)
      throw new ProcmeshError('SERVER_ERROR', `${nothingDone}: the decision could not be recorded (${msg})`)
    }
    try {
      const result = await act()
      this.audit.record({ ...allowed, time: Date.now(), result: describe(result) })
      return result
    } catch (err: unknown) {
      const pe = toProcmeshError(err)
      this.audit.record({ ...allowed, time: Date.now(), result: `failed: ${pe.code}: ${pe.message}` })
      throw err
    }
  }

  // ---- connections ----

  private connectionRefused (e: RefusedConnection): void {
    this.log.warn('%s connection %s %s refused: %s', e.direction, e.direction === 'inbound' ? 'from' : 'to', describePeer(e.peerId, this.nameOf(e.peerId)), e.reason)
    this.audit.record(this.entry('connection', e.peerId, { addr: e.addr, decision: 'denied', reason: `${e.direction}: ${e.reason}` }))
  }

  private handshakeFailed (f: FailedHandshake): void {
    // connections cut by our own shutdown are not the peer's fault
    if (!this.served) return
    const line = describeHandshakeFailure(f)
    this.log.debug('%s: %s', line, f.error)
    const key = hostOf(f.addr)
    const now = Date.now()
    const seen = this.failures.get(key)
    if (seen !== undefined && now - seen.last < HANDSHAKE_FAILURE_REPORT_INTERVAL_MS) { seen.suppressed++; return }
    const suppressed = seen?.suppressed ?? 0
    this.failures.delete(key)
    if (this.failures.size >= MAX_TRACKED_FAILURE_SOURCES) {
      const oldest = this.failures.keys().next()
      if (oldest.done !== true) this.failures.delete(oldest.value)
    }
    this.failures.set(key, { last: now, suppressed: 0 })
    const more = suppressed > 0 ? ` (and ${suppressed} more from ${key} in the last minute)` : ''
    this.log.warn('%s%s', line, more)
    this.audit.record(this.entry('connection', null, { addr: f.addr, decision: 'denied', reason: `${line}${more}` }))
  }

  /** Revocation of a connection: peers whose role became none are hung up at once. */
  private hangUpBlocked (tf: TrustFile): void {
    const node = this.libp2pNode
    if (node === undefined) return
    for (const conn of node.getConnections()) {
      const id = conn.remotePeer.toString()
      if (tf.peers[id]?.role !== 'none') continue
      this.log.info('hanging up on %s: blocked by the trust file', describePeer(id, this.nameOf(id)))
      node.hangUp(conn.remotePeer).catch((err: unknown) => { this.log.warn('hang-up of %s failed: %s', id, errorMessage(err)) })
    }
  }

  // ---- lifecycle (a node part): audit and claim protocols, the claim agent ----

  async start (): Promise<void> {
    if (this.served) return
    this.served = true
    const libp2p = this.libp2p
    await serveProtocol(libp2p, AUDIT, async req => ({ entries: this.audit.read(req.limit ?? DEFAULT_AUDIT_LIMIT) }), this.serveOptions())
    await serveProtocol(libp2p, CLAIM, async (req, ctx) => {
      const peerId = ctx.remotePeer.toString()
      try {
        const role = redeemInvite(this.trust, req.secret, peerId, this.nameOf(peerId))
        this.audit.record(this.entry('claim', peerId, { subject: peerId, role, decision: 'allowed', reason: 'presented the secret of an invite of this node' }))
        this.log.info('%s claimed an invite: it now holds %s here', describePeer(peerId, this.nameOf(peerId)), role)
        return { role, name: this.init.nodeName }
      } catch (err: unknown) {
        this.audit.record(this.entry('claim', peerId, { subject: peerId, decision: 'denied', reason: errorMessage(err) }))
        throw err
      }
    }, this.serveOptions())
    this.claimAgent = new ClaimAgent({ store: this.trust, libp2p, log: this.log })
    this.claimAgent.start()
    this.poll = setInterval(() => { this.trust.refresh() }, TRUST_POLL_MS)
    this.poll.unref()
  }

  async stop (): Promise<void> {
    if (!this.served) return
    this.served = false
    clearInterval(this.poll)
    this.claimAgent?.stop()
    await this.libp2p.unhandle([AUDIT.id, CLAIM.id])
  }

  // ---- control methods ----

  registerMethods (handlers: Map<string, RpcHandler>, deps: { peers: () => PeerEntry[], addrs: () => string[] }): void {
    handle(handlers, CONTROL_API.invite, async params => {
      const role = params.role
      const result = createInvite(this.trust, { swarmKeyHex: this.swarmKeyHex, selfId: this.selfId, selfName: this.init.nodeName, addrs: deps.addrs(), role })
      // the token itself is never logged or audited
      this.audit.record(this.entry('invite', this.selfId, { decision: 'allowed', reason: role !== undefined ? `invite granting ${role} on this node, expires ${new Date(result.expiresAt ?? 0).toISOString()}` : 'invite without a grant', ...(role !== undefined ? { role } : {}) }))
      return result
    })

    handle(handlers, CONTROL_API.trustList, async () => this.trustList())

    handle(handlers, CONTROL_API.trustAdd, async params => {
      const role = params.role
      const { peerId, name } = this.resolvePeer(params.peer, deps.peers())
      // dryRun: only say which peer PEER is, so the CLI can confirm the full id before granting
      if (params.dryRun === true) return { peerId, name: name ?? null, role }
      this.trust.update(tf => {
        const existing = tf.peers[peerId]
        tf.peers[peerId] = { ...existing, role, source: existing?.source ?? 'trust', addedAt: Date.now(), ...(name !== undefined ? { name } : {}) }
      })
      this.audit.record(this.entry('trust', this.selfId, { subject: peerId, role, decision: 'allowed', reason: `trust add: ${describePeer(peerId, name)} now holds ${role}` }))
      return { peerId, name: name ?? null, role }
    })

    handle(handlers, CONTROL_API.trustRemove, async params => {
      const { peerId, name } = this.resolvePeer(params.peer, deps.peers())
      if (params.dryRun === true) return { peerId, name: name ?? null, removed: this.trust.entry(peerId)?.role ?? null }
      const removed = this.trust.update(tf => {
        const had = tf.peers[peerId]
        delete tf.peers[peerId]
        return had
      })
      if (removed === undefined) throw new ProcmeshError('NOT_FOUND', `${describePeer(peerId, name)} has no entry in the trust file`)
      this.audit.record(this.entry('trust', this.selfId, { subject: peerId, role: 'read', decision: 'allowed', reason: `trust remove: ${describePeer(peerId, name)} no longer holds ${removed.role}` }))
      return { peerId, name: name ?? null, removed: removed.role }
    })

    handle(handlers, CONTROL_API.audit, async (params, ctx): Promise<AuditTargetEntry[]> => {
      const limit = params.limit ?? DEFAULT_AUDIT_LIMIT
      const { peers } = resolveTargets(params.target, deps.peers(), { trustedName: id => this.trust.entry(id)?.name })
      return await Promise.all(peers.map(async (peer): Promise<AuditTargetEntry> => {
        let entry: AuditTargetEntry
        try {
          let result: AuditResult
          if (peer.self) result = { entries: this.audit.read(limit) }
          else if (peer.status === 'offline') throw new ProcmeshError('PEER_OFFLINE', `${peer.name} is offline`)
          else result = await request(this.libp2p, peerIdFromString(peer.peerId), AUDIT, { type: 'audit', limit }, { timeoutMs: AUDIT_FAN_OUT_TIMEOUT_MS })
          entry = { peerId: peer.peerId, name: peer.name, entries: result.entries }
        } catch (err: unknown) {
          entry = { peerId: peer.peerId, name: peer.name, error: toProcmeshError(err).toJSON() }
        }
        ctx.notify(entry)
        return entry
      }))
    })
  }

  trustList (): TrustListResult {
    const tf = this.trust.data
    return {
      peers: Object.entries(tf.peers).map(([peerId, e]) => ({ peerId, name: this.viewName(peerId) ?? e.name ?? null, role: e.role, source: e.source, addedAt: e.addedAt })),
      invites: tf.invites.map(i => ({ id: i.id, role: i.role, expiresAt: i.expiresAt })),
      claims: tf.claims.map(c => ({ admin: c.admin, role: c.role, expiresAt: c.expiresAt }))
    }
  }

  /** PEER of `procmesh trust`: a peer id, a node name or peer id prefix in the mesh view, or a name in the trust file. */
  private resolvePeer (text: string, peers: PeerEntry[]): { peerId: string, name?: string } {
    const t = text.trim()
    if (t === 'self' || t === 'all' || t.startsWith('tag:')) throw new ProcmeshError('INVALID_REQUEST', `peer: expected a peer id or a node name, got ${JSON.stringify(t)}`)
    let peerId: string | undefined
    try {
      peerId = peerIdFromString(t).toString()
    } catch {
      try {
        peerId = resolveTargets(t, peers, { trustedName: id => this.trust.entry(id)?.name }).peers[0]?.peerId
      } catch (err: unknown) {
        const inFile = Object.entries(this.trust.data.peers).filter(([, e]) => e.name === t)
        if (inFile.length !== 1) throw err
        peerId = inFile[0][0]
      }
    }
    if (peerId === undefined) throw new ProcmeshError('UNKNOWN_PEER', `no peer ${JSON.stringify(t)}`)
    if (peerId === this.selfId) throw new ProcmeshError('INVALID_REQUEST', 'this node always holds every role on itself')
    return { peerId, name: this.nameOf(peerId) }
  }
}

