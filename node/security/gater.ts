/**
 * The connection gater: refuses blocked peers (trust role `none`) on both sides of a
 * connection, and notices connections that die before the peer is known, which in
 * a private mesh almost always means the other side has a different swarm key or
 * none (pnet turns the Noise handshake into noise, and the upgrader fails with an
 * EncryptionFailedError that libp2p only reports to its debug log).
 *
 * js-libp2p 3 facts this relies on:
 * - the gater's hooks must be own enumerable properties (arrow functions in an
 *   object literal): libp2p merges its config and drops prototype methods;
 * - `denyInboundEncryptedConnection` is the first inbound hook that knows the
 *   authenticated peer, and `denyInboundConnection` receives the same raw
 *   MultiaddrConnection earlier, so a connection that closes between the two (with
 *   an error, or cleanly when the other side gave up first) never proved it holds
 *   the mesh key;
 * - a dial is gated by `denyDialPeer` (before dialling a known peer id) and
 *   `denyOutboundEncryptedConnection` (after Noise, when a bare address turned out
 *   to be a blocked peer).
 */
import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { StreamCloseEvent } from '@libp2p/interface'
import { ConnectionTable, hostPart, InboundAdmission, UNKNOWN_HANDSHAKE_TIMEOUT_MS } from './admission.js'

export type Direction = 'inbound' | 'outbound'
/** why a connection died before the peer was known ('busy': refused by admission, see admission.ts) */
export type HandshakeFailure = 'mesh-key' | 'timeout' | 'busy'

/** The error an unknown host's too-slow handshake is cut with (classified as a timeout). */
class HandshakeTimeoutError extends Error {
  override name = 'TimeoutError'
}

export interface RefusedConnection { peerId: string, addr: string, direction: Direction, reason: string }
export interface FailedHandshake { addr: string, direction: Direction, failure: HandshakeFailure, error: string }

export interface GaterInit {
  /** true for a peer whose connections are refused */
  isBlocked: (peerId: string) => boolean
  onRefused: (event: RefusedConnection) => void
  onHandshakeFailed: (event: FailedHandshake) => void
  /** pending-handshake limits per host (default: one with no seeds) */
  admission?: InboundAdmission
  /** deadline of an unknown host's handshake (ms) */
  unknownHandshakeTimeoutMs?: number
  /** true for a peer this node knows (a trust entry): its connections are never counted against the table limits */
  isKnownPeer?: (peerId: string) => boolean
  /** established connections of unknown peers (default: a fresh table) */
  table?: ConnectionTable
}

/**
 * Classify the error a connection closed with before the peer was known (pure). With
 * pnet every such failure means the other side did not prove it holds the key: a
 * different key garbles Noise (EncryptionFailedError: message length, missing
 * newline ...), no key at all or a reset by a peer that failed OUR key looks alike,
 * and a peer without pnet and one with it can also wait on each other until the
 * upgrade deadline.
 */
export function classifyHandshakeFailure (err: Error): HandshakeFailure {
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout'
  return 'mesh-key'
}

/** The one log line of a failed handshake (never names a key). */
export function describeHandshakeFailure (f: FailedHandshake): string {
  const who = f.direction === 'inbound' ? `connection from ${f.addr}` : `dial to ${f.addr}`
  if (f.failure === 'busy') return `${who} refused before its handshake: ${f.error}`
  if (f.failure === 'timeout') return `${who} failed the mesh key check (different or no swarm key; the handshake timed out)`
  // a dial for a peer id that used to live at this address (a restarted host with a new
  // identity) fails the same way from here, so the line says so rather than blame the key alone
  return f.direction === 'inbound'
    ? `${who} failed the mesh key check (different or no swarm key; or it expected another peer id at this address)`
    : `${who} failed the mesh key check (different or no swarm key)`
}

export function createGater (init: GaterInit): ConnectionGater {
  const admission = init.admission ?? new InboundAdmission()
  const unknownTimeoutMs = init.unknownHandshakeTimeoutMs ?? UNKNOWN_HANDSHAKE_TIMEOUT_MS
  const table = init.table ?? new ConnectionTable()
  // connections that reached the encrypted hooks: their later close is not a handshake failure
  const identified = new WeakSet<MultiaddrConnection>()
  // inbound connections holding an admission slot, and how to free it (once)
  const admitted = new WeakMap<MultiaddrConnection, () => void>()
  const admit = (maConn: MultiaddrConnection): boolean => {
    const addr = maConn.remoteAddr.toString()
    const host = hostPart(addr)
    const a = admission.admit(host)
    if (!a.admitted) {
      init.onHandshakeFailed({ addr, direction: 'inbound', failure: 'busy', error: a.reason })
      return false
    }
    let timer: NodeJS.Timeout | undefined
    if (!a.known) {
      // a silent connection from a host not known to hold the key is cut early
      timer = setTimeout(() => { if (!identified.has(maConn)) maConn.abort(new HandshakeTimeoutError(`handshake not finished within ${unknownTimeoutMs} ms`)) }, unknownTimeoutMs)
      timer.unref()
    }
    let freed = false
    const free = (): void => {
      if (freed) return
      freed = true
      clearTimeout(timer)
      admission.release(host, a.known)
    }
    admitted.set(maConn, free)
    maConn.addEventListener('close', free, { once: true })
    return true
  }
  const watch = (maConn: MultiaddrConnection, direction: Direction): void => {
    maConn.addEventListener('close', (evt: StreamCloseEvent) => {
      if (identified.has(maConn)) return
      // a clean close counts too: a peer that gives up first (its own dial deadline) closes without an error here
      const error = evt.error ?? new Error('closed before the handshake finished')
      init.onHandshakeFailed({ addr: maConn.remoteAddr.toString(), direction, failure: classifyHandshakeFailure(error), error: error.message })
    }, { once: true })
  }
  const refuse = (peerId: PeerId, maConn: MultiaddrConnection, direction: Direction): boolean => {
    identified.add(maConn)
    // past pnet and Noise: this host holds the mesh key
    admitted.get(maConn)?.()
    admission.proved(hostPart(maConn.remoteAddr.toString()))
    const id = peerId.toString()
    if (init.isBlocked(id)) {
      init.onRefused({ peerId: id, addr: maConn.remoteAddr.toString(), direction, reason: 'blocked by the trust file (role none)' })
      return true
    }
    const host = hostPart(maConn.remoteAddr.toString())
    if (direction === 'outbound' || init.isKnownPeer?.(id) === true || admission.isSeed(host)) return false
    // an unknown peer (fresh identities are free to whoever holds the key): bounded per host and in all
    const a = table.admit(host, id)
    if (!a.admitted) {
      init.onRefused({ peerId: id, addr: maConn.remoteAddr.toString(), direction, reason: a.reason })
      return true
    }
    maConn.addEventListener('close', a.release, { once: true })
    return false
  }
  return {
    denyDialPeer: (peerId: PeerId) => init.isBlocked(peerId.toString()),
    denyInboundConnection: (maConn: MultiaddrConnection) => {
      if (!admit(maConn)) return true
      watch(maConn, 'inbound')
      return false
    },
    denyOutboundConnection: (peerId: PeerId, maConn: MultiaddrConnection) => {
      if (init.isBlocked(peerId.toString())) return true
      watch(maConn, 'outbound')
      return false
    },
    denyInboundEncryptedConnection: (peerId: PeerId, maConn: MultiaddrConnection) => refuse(peerId, maConn, 'inbound'),
    denyOutboundEncryptedConnection: (peerId: PeerId, maConn: MultiaddrConnection) => refuse(peerId, maConn, 'outbound')
  }
}
