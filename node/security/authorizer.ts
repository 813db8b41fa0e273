/**
 * Who may do what on this node (pure decisions over the trust file's roles).
 *
 * - This node itself (requests from the local control socket) holds every role.
 * - A peer with a trust entry holds that entry's role (join admins are entries too).
 * - Any other peer that completed a connection holds the mesh key: it holds read.
 *
 * The peer is always the authenticated remote peer of the connection (Noise), never
 * a field of a payload.
 */
import type { PeerId } from '@libp2p/interface'
import type { Role } from '../../protocols/wire.js'
import type { Authorizer } from '../mesh/reqresp.js'
import { roleCovers, type TrustRole } from './trust-store.js'

export function describePeer (peerId: string, name: string | undefined): string {
  return `peer ${peerId} (${name ?? 'unknown name'})`
}

/** The role `peerId` holds here, given its trust entry's role (if any). */
export function effectiveRole (peerId: string, selfId: string, entryRole: TrustRole | undefined): TrustRole {
  if (peerId === selfId) return 'exec'
  return entryRole ?? 'read'
}

export interface RoleCheck {
  peerId: string
  name: string | undefined
  granted: TrustRole
  needed: Role
  nodeName: string
}

/** undefined when allowed; else the message of the FORBIDDEN error, naming the missing role. */
export function checkRole (c: RoleCheck): string | undefined {
  if (roleCovers(c.granted, c.needed)) return undefined
  if (c.granted === 'none') return `forbidden: ${describePeer(c.peerId, c.name)} is blocked on ${c.nodeName} (trust role none)`
  return `forbidden: ${describePeer(c.peerId, c.name)} lacks the ${c.needed} role on ${c.nodeName} (it holds ${c.granted}; grant it there with: procmesh trust add ${c.peerId} --role ${c.needed})`
}

export interface AuthorizerInit {
  selfId: () => string
  nodeName: string
  /** the trust entry's role of a peer (reloads the trust file when it changed) */
  entryRole: (peerId: string) => TrustRole | undefined
  nameOf: (peerId: string) => string | undefined
  /**
   * Protocols whose role check happens in the handler, where the request is known
   * (start and stop: the audit line needs the argv or pid). Here they need read.
   */
  checkedInHandler: ReadonlySet<string>
}

/** The Authorizer serveProtocol calls after a request is read and validated. */
export function createAuthorizer (init: AuthorizerInit): Authorizer {
  return (remotePeer: PeerId, role: Role, protocol: string): string | undefined => {
    const peerId = remotePeer.toString()
    const granted = effectiveRole(peerId, init.selfId(), init.entryRole(peerId))
    const needed: Role = init.checkedInHandler.has(protocol) ? 'read' : role
    return checkRole({ peerId, name: init.nameOf(peerId), granted, needed, nodeName: init.nodeName })
  }
}
