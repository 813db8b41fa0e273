/**
 * Admission of inbound connections before their handshake (issue 17 finding 4).
 *
 * A host without the mesh key cannot finish a handshake, but it can start many: with
 * libp2p's single pool of pending-handshake slots, 5 silent TCP connects per second
 * from one address (the per-host rate libp2p allows) kept every slot busy, and no
 * new member could connect. So, on top of libp2p's pool:
 * - one remote host holds at most MAX_PENDING_PER_HOST unfinished handshakes;
 * - hosts not known to hold the key share MAX_PENDING_UNKNOWN slots, so the rest of
 *   libp2p's pool stays free for known hosts (trust entries, bootstrap and join
 *   addresses, and hosts that completed a handshake before, which proves the key);
 * - an unknown host's connection that has not finished its handshake within
 *   UNKNOWN_HANDSHAKE_TIMEOUT_MS is cut (an honest LAN handshake takes milliseconds;
 *   known hosts keep libp2p's longer upgrade deadline).
 */

/** Unfinished handshakes one remote host may hold. */
export const MAX_PENDING_PER_HOST = 8
/** Unfinished handshakes all unknown hosts together may hold (libp2p's pool is larger: the rest is for known hosts). */
export const MAX_PENDING_UNKNOWN = 48
/** Deadline of an unknown host's handshake (ms); libp2p's upgrade deadline applies to known ones. */
export const UNKNOWN_HANDSHAKE_TIMEOUT_MS = 2000
/** Hosts remembered as having proved the mesh key (oldest forgotten first). */
export const MAX_PROVEN_HOSTS = 4096
/**
 * Established connections (issue 17 finding 11: one member with the key filled the
 * 300-connection table with fresh identities and new peers were refused): peers that are not
 * known (no trust entry, not at a bootstrap or join address) may hold at most this many
 * connections from one remote host (several nodes behind one NAT or on one test machine fit)
 * ...
 */
export const MAX_UNKNOWN_PEERS_PER_HOST = 16
/**
 * ... and this many in all, so MAX_CONNECTIONS minus this (node/mesh/libp2p.ts: 300 - 250)
 * stay free for known peers whatever unknown ones do.
 */
export const MAX_UNKNOWN_CONNECTIONS = 250

/** The host part of a multiaddr (`/ip4/1.2.3.4`), the unit of these limits. */
export function hostPart (addr: string): string {
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+/.exec(addr)
  return m !== null ? m[0] : addr
}

export type Admission = { admitted: true, known: boolean } | { admitted: false, reason: string }

export class InboundAdmission {
  private readonly pending = new Map<string, number>()
  private pendingUnknown = 0
  private readonly proven = new Set<string>()
  private readonly seeds: () => Iterable<string>

  /** `seeds`: multiaddrs (or host parts) of hosts known to be members: trust entries, bootstrap, join */
  constructor (seeds: () => Iterable<string> = () => []) {
    this.seeds = seeds
  }

  isKnown (host: string): boolean {
    return this.proven.has(host) || this.isSeed(host)
  }

  /** A host named by a trust entry, a bootstrap or a join address (not merely one that passed the key). */
  isSeed (host: string): boolean {
    for (const a of this.seeds()) if (hostPart(a) === host) return true
    return false
  }

  /** A new inbound connection from `host`: admitted (and counted until released) or refused. */
  admit (host: string): Admission {
    const known = this.isKnown(host)
    const mine = this.pending.get(host) ?? 0
    if (!known) {
      if (mine >= MAX_PENDING_PER_HOST) return { admitted: false, reason: `${mine} unfinished handshakes from ${host} already (at most ${MAX_PENDING_PER_HOST} per host)` }
      if (this.pendingUnknown >= MAX_PENDING_UNKNOWN) return { admitted: false, reason: `${this.pendingUnknown} unfinished handshakes from hosts not known to be members (at most ${MAX_PENDING_UNKNOWN}; the rest are kept for known hosts)` }
      this.pendingUnknown++
    }
    this.pending.set(host, mine + 1)
    return { admitted: true, known }
  }

  /** The handshake finished or failed: the slot is free again. */
  release (host: string, known: boolean): void {
    const mine = this.pending.get(host) ?? 0
    if (mine <= 1) this.pending.delete(host)
    else this.pending.set(host, mine - 1)
    if (!known) this.pendingUnknown = Math.max(0, this.pendingUnknown - 1)
  }

  /** A connection from `host` passed the mesh key (pnet + Noise): it is a member's host. */
  proved (host: string): void {
    this.proven.delete(host)
    this.proven.add(host)
    if (this.proven.size > MAX_PROVEN_HOSTS) {
      const oldest = this.proven.values().next()
      if (oldest.done !== true) this.proven.delete(oldest.value)
    }
  }

  /** unfinished handshakes: all, and of unknown hosts */
  counts (): { pending: number, unknown: number } {
    let pending = 0
    for (const n of this.pending.values()) pending += n
    return { pending, unknown: this.pendingUnknown }
  }
}

export type TableAdmission = { admitted: true, release: () => void } | { admitted: false, reason: string }

/**
 * Established inbound connections of unknown peers, per remote host and in all (issue 17
 * finding 11). Known peers (the caller decides: trust entries, seed hosts) are not counted and
 * never refused here; libp2p's table (MAX_CONNECTIONS) then always has room for them.
 */
export class ConnectionTable {
  /** host -> peer id -> open connections */
  private readonly byHost = new Map<string, Map<string, number>>()
  private unknown = 0

  admit (host: string, peerId: string): TableAdmission {
    const peers = this.byHost.get(host) ?? new Map<string, number>()
    if (!peers.has(peerId) && peers.size >= MAX_UNKNOWN_PEERS_PER_HOST) return { admitted: false, reason: `${peers.size} peers not known to this node already connected from ${host} (at most ${MAX_UNKNOWN_PEERS_PER_HOST} per host; trust entries and bootstrap or join addresses are not limited)` }
    if (this.unknown >= MAX_UNKNOWN_CONNECTIONS) return { admitted: false, reason: `${this.unknown} connections of peers not known to this node already (at most ${MAX_UNKNOWN_CONNECTIONS}; the rest are kept for known peers)` }
    peers.set(peerId, (peers.get(peerId) ?? 0) + 1)
    this.byHost.set(host, peers)
    this.unknown++
    let released = false
    return {
      admitted: true,
      release: () => {
        if (released) return
        released = true
        this.unknown--
        const n = (peers.get(peerId) ?? 1) - 1
        if (n <= 0) peers.delete(peerId)
        else peers.set(peerId, n)
        if (peers.size === 0 && this.byHost.get(host) === peers) this.byHost.delete(host)
      }
    }
  }

  counts (): { unknown: number, hosts: number } {
    return { unknown: this.unknown, hosts: this.byHost.size }
  }
}
