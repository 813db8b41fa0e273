/** The control methods of the security layer: `invite`, `trust.list/add/remove`, `audit` and `rotate-key`. */
import { peerIdFromString } from '@libp2p/peer-id'
import { CONTROL_API } from '../../protocols/control-api.js'
import { ProcmeshError, toProcmeshError } from '../../protocols/errors.js'
import { ROTATE_HANDOVER_TIMEOUT_MS, ROTATE_KEY, ROTATE_SWITCH_DELAY_MS, type RotateKeyMember } from '../../protocols/rotate-key.js'
import { AUDIT } from '../../protocols/messages.js'
import type { PeerEntry } from '../../protocols/types.js'
import { askEach, askPeer } from '../control/fan-out.js'
import { handle, type RpcHandler } from '../control/control-server.js'
import type { ProcmeshLibp2p } from '../mesh/libp2p.js'
import { resolveTargets } from '../mesh/targets.js'
import { describePeer } from './authorizer.js'
import { createInvite } from './invite.js'
import { generateSwarmKeyHex, meshFingerprint, writeSwarmKey } from './swarm-key.js'
import type { NodeSecurity } from './security.js'
import { DEFAULT_AUDIT_LIMIT } from './security-service.js'
import { grantTrust, removeTrust, trustEntryNamed, trustList, type TrustChanger } from './trust-change.js'

/** Per-peer timeout of a fan-out audit query. */
export const AUDIT_FAN_OUT_TIMEOUT_MS = 10_000

export interface SecurityMethodDeps {
  security: NodeSecurity
  /** switches this node to the key now in its home after a delay (security-service.ts) */
  switchAfter: (delayMs: number, reason: string) => void
  libp2p: ProcmeshLibp2p
  peers: () => PeerEntry[]
  addrs: () => string[]
  /** the mesh view's name of a peer */
  viewName: (peerId: string) => string | undefined
}

export function registerSecurityMethods (handlers: Map<string, RpcHandler>, deps: SecurityMethodDeps): void {
  const sec = deps.security
  const trustedName = (id: string): string | undefined => sec.trust.entry(id)?.name
  const who = async (): Promise<TrustChanger> => ({ by: sec.selfId, byName: sec.nodeName, local: await sec.localCaller(sec.selfId) })

  handle(handlers, CONTROL_API.invite, async params => {
    const role = params.role
    const result = createInvite(sec.trust, { swarmKeyHex: sec.swarmKeyHex, selfId: sec.selfId, selfName: sec.nodeName, addrs: deps.addrs(), role })
    // the token itself is never logged or audited
    sec.audit.record(sec.entry('invite', sec.selfId, { ...await sec.localCaller(sec.selfId), decision: 'allowed', reason: role !== undefined ? `invite granting ${role} on this node, expires ${new Date(result.expiresAt ?? 0).toISOString()}` : 'invite without a grant', ...(role !== undefined ? { role } : {}) }))
    return result
  })

  handle(handlers, CONTROL_API.trustList, async () => trustList(sec.trust.data, deps.viewName))

  handle(handlers, CONTROL_API.trustAdd, async params => {
    const role = params.role
    const { peerId, name } = resolvePeer(sec, params.peer, deps.peers())
    // dryRun: only say which peer PEER is, so the CLI can confirm the full id before granting
    if (params.dryRun === true) return { peerId, name: name ?? null, role }
    return grantTrust(sec.trust, sec.audit, peerId, name, role, await who())
  })

  handle(handlers, CONTROL_API.trustRemove, async params => {
    const { peerId, name } = resolvePeer(sec, params.peer, deps.peers())
    if (params.dryRun === true) return { peerId, name: name ?? null, removed: sec.trust.entry(peerId)?.role ?? null }
    return removeTrust(sec.trust, sec.audit, peerId, name, await who())
  })

  handle(handlers, CONTROL_API.rotateKey, async params => {
    const local = await sec.localCaller(sec.selfId)
    const peers = deps.peers()
    const named = new Map<string, PeerEntry>()
    const unknown: RotateKeyMember[] = []
    for (const text of params.members) {
      try {
        const { peerId } = resolvePeer(sec, text, peers)
        const entry = peers.find(p => p.peerId === peerId)
        if (entry === undefined) throw new ProcmeshError('UNKNOWN_PEER', `${describePeer(peerId, sec.nameOf(peerId))} is not in this node's mesh view: it cannot be handed the key`)
        named.set(peerId, entry)
      } catch (err: unknown) {
        unknown.push({ peerId: text, name: text, error: toProcmeshError(err).toJSON() })
      }
    }
    const key = generateSwarmKeyHex()
    const mesh = meshFingerprint(key)
    // each named member stores the key and switches a few seconds later; this node switches last
    const handed = await askEach([...named.values()], async peer => {
      const r = await askPeer(deps.libp2p, peer, ROTATE_KEY, { type: 'rotate-key', key }, { timeoutMs: ROTATE_HANDOVER_TIMEOUT_MS })
      if (r.mesh !== mesh) throw new ProcmeshError('PROTOCOL_ERROR', `${peer.name} stored a key of mesh ${r.mesh}, not ${mesh}`)
      return { mesh: r.mesh }
    }, () => {})
    const members = [...handed, ...unknown]
    const kept = handed.filter(m => !('error' in m)).map(m => describePeer(m.peerId, m.name))
    const failed = members.filter(m => 'error' in m).map(m => `${m.name}: ${'error' in m ? m.error.message : ''}`)
    if (params.members.length > 0 && kept.length === 0) {
      sec.audit.record(sec.entry('rotate-key', sec.selfId, { ...local, decision: 'denied', reason: `rotate-key: no named member took the new key (${failed.join('; ')}); this node keeps mesh ${sec.mesh}` }))
      throw new ProcmeshError('UNAVAILABLE', `no named member took the new key, so this node keeps mesh ${sec.mesh}: ${failed.join('; ')}`)
    }
    await writeSwarmKey(sec.swarmKeyFile, key)
    sec.audit.record(sec.entry('rotate-key', sec.selfId, {
      ...local,
      decision: 'allowed',
      reason: `rotate-key: mesh ${sec.mesh} -> ${mesh}, handed to ${kept.length > 0 ? kept.join(', ') : 'no other member'}; every other holder of the old key is out${failed.length > 0 ? `; not handed: ${failed.join('; ')}` : ''}`,
      result: `switching in ${ROTATE_SWITCH_DELAY_MS} ms`
    }))
    sec.log.warn('rotated the mesh key: mesh %s -> %s, handed to %d member(s); switching in %d ms', sec.mesh, mesh, kept.length, ROTATE_SWITCH_DELAY_MS)
    deps.switchAfter(ROTATE_SWITCH_DELAY_MS, `the mesh key was rotated here (mesh ${mesh})`)
    return { mesh, members, switchInMs: ROTATE_SWITCH_DELAY_MS }
  })

  handle(handlers, CONTROL_API.audit, async (params, ctx) => {
    const limit = params.limit ?? DEFAULT_AUDIT_LIMIT
    const { peers } = resolveTargets(params.target, deps.peers(), { trustedName })
    return await askEach(peers, async peer => peer.self
      ? { entries: sec.audit.read(limit) }
      : { entries: (await askPeer(deps.libp2p, peer, AUDIT, { type: 'audit', limit }, { timeoutMs: AUDIT_FAN_OUT_TIMEOUT_MS })).entries }, e => { ctx.notify(e) })
  })
}

/** PEER of `procmesh trust`: a peer id, a node name or peer id prefix in the mesh view, or a name in the trust file. */
function resolvePeer (sec: NodeSecurity, text: string, peers: PeerEntry[]): { peerId: string, name?: string } {
  const t = text.trim()
  if (t === 'self' || t === 'all' || t.startsWith('tag:')) throw new ProcmeshError('INVALID_REQUEST', `peer: expected a peer id or a node name, got ${JSON.stringify(t)}`)
  let peerId: string | undefined
  try {
    peerId = peerIdFromString(t).toString()
  } catch {
    try {
      peerId = resolveTargets(t, peers, { trustedName: id => sec.trust.entry(id)?.name }).peers[0]?.peerId
    } catch (err: unknown) {
      peerId = trustEntryNamed(sec.trust.data, t)
      if (peerId === undefined) throw err
    }
  }
  if (peerId === undefined) throw new ProcmeshError('UNKNOWN_PEER', `no peer ${JSON.stringify(t)}`)
  if (peerId === sec.selfId) throw new ProcmeshError('INVALID_REQUEST', 'this node always holds every role on itself')
  return { peerId, name: sec.nameOf(peerId) }
}
