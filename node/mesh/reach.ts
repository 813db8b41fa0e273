/**
 * Reach: every member the view knows is dialled at the addresses it announced in its
 * own signed summary, and each member's reach (direct, relayed, unreachable) is read
 * from the open connections.
 *
 * libp2p dials by peer id through its peer store, which only identify (and mDNS)
 * fill; a member known from gossip alone (another subnet, relayed summaries) had no
 * addresses there, so requests to it failed with "no valid addresses". The keeper
 * below feeds the view's addresses into the peer store and asks the dialer to hold a
 * connection to each member, so losing the host that bridged two subnets costs
 * nothing while the members can reach each other.
 *
 * What a gossiped address may make this node dial (dialableAddrs): only what the
 * member announced about itself (its summary is signed by its own key), and never
 * - loopback (127.0.0.0/8, ::1) from a member on another host: that would make this
 *   node dial its own local services; accepted only when this node itself announces
 *   loopback addresses only (every member then runs on this machine);
 * - link-local (169.254.0.0/16, fe80::/10): meaningful on one link only and without
 *   the zone they need;
 * - unspecified, multicast and broadcast addresses, ports outside 1..65535, anything
 *   but /ip4|ip6/.../tcp/PORT, an address naming another peer id;
 * - a relay address whose relay is not a member in the view, or is this node.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isIPv4, isIPv6 } from 'node:net'
import { errorMessage } from '../../protocols/errors.js'
import { MAX_KEPT_MEMBERS, REACH_TICK_MS } from '../../protocols/limits.js'
import type { PeerEntry, PeerReach } from '../../protocols/types.js'
import type { Logger } from '../logger.js'
import type { PeerDialer } from './dialer.js'
import type { ProcmeshLibp2p } from './libp2p.js'
import { isRelayed } from './relay.js'

export interface AddrPolicy {
  /** this node announces loopback addresses only: every member is on this machine */
  allowLoopback: boolean
  /** true for a member of the view (relays must be members) */
  isMember: (peerId: string) => boolean
  selfId: string
}

export interface DroppedAddr { addr: string, reason: string }

export interface DialableAddrs {
  /** direct TCP addresses, without the trailing /p2p/PEER */
  direct: Multiaddr[]
  /** relay addresses (`.../p2p/RELAY/p2p-circuit`), without the trailing /p2p/PEER */
  relayed: Multiaddr[]
  dropped: DroppedAddr[]
}

/** Why an IP address must not be dialled because another host said so; undefined when it may be. */
export function ipRefusal (ip: string, allowLoopback: boolean): string | undefined {
  if (isIPv4(ip)) {
    const [a, b] = ip.split('.').map(Number)
    if (a === 0) return 'unspecified or "this network" address'
    if (a === 127) return allowLoopback ? undefined : 'loopback address from another host'
    if (a === 169 && b === 254) return 'link-local address'
    if (a >= 224) return 'multicast, reserved or broadcast address'
    return undefined
  }
  if (isIPv6(ip)) {
    const low = ip.toLowerCase()
    // IPv4-mapped (::ffff:a.b.c.d, which multiaddr writes as ::ffff:XXXX:XXXX) is judged as IPv4
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(low)
    if (mapped !== null) return ipRefusal(mapped[1], allowLoopback)
    const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(low)
    if (mappedHex !== null) {
      const hi = parseInt(mappedHex[1], 16)
      const lo = parseInt(mappedHex[2], 16)
      return ipRefusal(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, allowLoopback)
    }
    if (low === '::') return 'unspecified address'
    if (low === '::1') return allowLoopback ? undefined : 'loopback address from another host'
    if (/^fe[89ab]/.test(low)) return 'link-local address'
    if (low.startsWith('ff')) return 'multicast address'
    return undefined
  }
  return 'not an IP address'
}

/** The `/ip4|ip6/HOST/tcp/PORT` head of an address checked; returns why not, or undefined. */
function checkTcpHead (parts: Array<{ name: string, value?: string }>, allowLoopback: boolean): string | undefined {
  if (parts.length < 2) return 'expected /ip4|ip6/HOST/tcp/PORT'
  const [ip, tcp] = parts
  if ((ip.name !== 'ip4' && ip.name !== 'ip6') || ip.value === undefined) return 'expected /ip4 or /ip6 first'
  if (tcp.name !== 'tcp' || tcp.value === undefined) return 'expected /tcp after the IP address'
  const port = Number(tcp.value)
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port ${tcp.value} outside 1..65535`
  return ipRefusal(ip.value, allowLoopback)
}

/**
 * The addresses of `peerId`'s summary this node may dial (pure). See the file comment
 * for what is dropped and why.
 */
export function dialableAddrs (peerId: string, addrs: readonly string[], policy: AddrPolicy): DialableAddrs {
  const out: DialableAddrs = { direct: [], relayed: [], dropped: [] }
  const seen = new Set<string>()
  for (const addr of addrs) {
    let ma: Multiaddr
    try {
      ma = multiaddr(addr)
    } catch (err: unknown) {
      out.dropped.push({ addr, reason: `not a multiaddr: ${errorMessage(err)}` })
      continue
    }
    const parts = ma.getComponents().map(c => ({ name: c.name, value: c.value }))
    // a trailing /p2p/ID must be the member itself
    const last = parts[parts.length - 1]
    if (last?.name === 'p2p') {
      if (last.value !== peerId) { out.dropped.push({ addr, reason: 'names another peer id' }); continue }
      parts.pop()
    }
    const head = checkTcpHead(parts, policy.allowLoopback)
    if (head !== undefined) { out.dropped.push({ addr, reason: head }); continue }
    let bare: string
    let relayed = false
    if (parts.length === 2) {
      bare = `/${parts[0].name}/${parts[0].value ?? ''}/tcp/${parts[1].value ?? ''}`
    } else if (parts.length === 4 && parts[2].name === 'p2p' && parts[3].name === 'p2p-circuit') {
      const relay = parts[2].value ?? ''
      if (relay === peerId) { out.dropped.push({ addr, reason: 'relays through the member itself' }); continue }
      if (relay === policy.selfId) { out.dropped.push({ addr, reason: 'relays through this node' }); continue }
      if (!policy.isMember(relay)) { out.dropped.push({ addr, reason: 'relay is not a member of the mesh view' }); continue }
      bare = `/${parts[0].name}/${parts[0].value ?? ''}/tcp/${parts[1].value ?? ''}/p2p/${relay}/p2p-circuit`
      relayed = true
    } else {
      out.dropped.push({ addr, reason: 'expected /ip4|ip6/HOST/tcp/PORT or /ip4|ip6/HOST/tcp/PORT/p2p/RELAY/p2p-circuit' })
      continue
    }
    if (seen.has(bare)) continue
    seen.add(bare)
    ;(relayed ? out.relayed : out.direct).push(multiaddr(bare))
  }
  return out
}

/** How a member is reached, from the remote addresses of its open connections (pure). */
export function reachOf (remoteAddrs: ReadonlyArray<Multiaddr | string>): PeerReach {
  if (remoteAddrs.length === 0) return 'unreachable'
  return remoteAddrs.some(a => !isRelayed(a)) ? 'direct' : 'relayed'
}

/**
 * Our own addresses in the order a summary should carry them (pure): direct ones
 * first, but at least `keepRelayed` relay addresses survive the summary's cap, since
 * they are the only way in for members that cannot dial the direct ones.
 */
export function announceOrder (addrs: readonly string[], cap: number, keepRelayed = 2): string[] {
  // sorted: libp2p's address order varies, and every change of the list is gossiped as a delta
  const relayed = addrs.filter(a => isRelayed(a)).sort()
  const direct = addrs.filter(a => !isRelayed(a)).sort()
  const relayedKept = relayed.slice(0, Math.min(keepRelayed, cap))
  return [...direct.slice(0, cap - relayedKept.length), ...relayedKept, ...relayed.slice(relayedKept.length)].slice(0, cap)
}

/**
 * Our relay addresses worth announcing (pure): those through a relay at an address the
 * relay announces itself (`addrsOf`, from the view). A reservation also lists the
 * addresses the relay was merely observed at (an outgoing connection's ephemeral port),
 * which no one can dial and which come and go, each change a gossiped delta.
 */
export function announcedRelayAddrs (addrs: readonly string[], addrsOf: (relayId: string) => readonly string[] | undefined): string[] {
  return addrs.filter(a => {
    if (!isRelayed(a)) return true
    const m = /^(\/ip[46]\/[^/]+\/tcp\/\d+)\/p2p\/([^/]+)\/p2p-circuit/.exec(a)
    if (m === null) return false
    const own = addrsOf(m[2])
    return own?.some(o => o === m[1] || o === `${m[1]}/p2p/${m[2]}`) === true
  })
}

export function isLoopbackAddr (addr: string): boolean {
  return addr.startsWith('/ip4/127.') || addr.startsWith('/ip6/::1/')
}

export interface ReachKeeperInit {
  libp2p: ProcmeshLibp2p
  dialer: PeerDialer
  /** the view's entries (self included) */
  peers: () => PeerEntry[]
  /** the addresses this node announces */
  selfAddrs: () => string[]
  log: Logger
  tickMs?: number
}

/**
 * Feeds the view's addresses into the peer store and keeps a connection to every
 * member (up to MAX_KEPT_MEMBERS), and answers how each member is reached.
 */
export class ReachKeeper {
  private readonly init: ReachKeeperInit
  private timer?: NodeJS.Timeout
  /** the addresses last fed per member and what the filter made of them, so unchanged summaries cost nothing */
  private readonly fed = new Map<string, { key: string, addrs: DialableAddrs }>()
  private readonly ids = new Map<string, PeerId>()

  constructor (init: ReachKeeperInit) {
    this.init = init
  }

  start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(this.tick, this.init.tickMs ?? REACH_TICK_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.fed.clear()
    this.ids.clear()
  }

  /** How `peerId` is reached now; this node itself is `direct`. */
  reach (peerId: string): PeerReach {
    if (peerId === this.init.libp2p.peerId.toString()) return 'direct'
    const id = this.peerIdOf(peerId)
    if (id === undefined) return 'unreachable'
    const conns: Connection[] = this.init.libp2p.getConnections(id).filter(c => c.status === 'open')
    return reachOf(conns.map(c => c.remoteAddr))
  }

  /** Entries with their reach filled in. */
  withReach (entries: PeerEntry[]): PeerEntry[] {
    return entries.map(e => ({ ...e, reach: e.self ? 'direct' : this.reach(e.peerId) }))
  }

  private peerIdOf (peerId: string): PeerId | undefined {
    let id = this.ids.get(peerId)
    if (id !== undefined) return id
    try {
      id = peerIdFromString(peerId)
    } catch {
      return undefined
    }
    // bounded by the view (MAX_VIEW_PEERS); tick() drops ids that left it
    this.ids.set(peerId, id)
    return id
  }

  private readonly tick = (): void => {
    const { libp2p, dialer, log } = this.init
    if (libp2p.status !== 'started') return
    const selfId = libp2p.peerId.toString()
    const entries = this.init.peers().filter(e => !e.self && e.peerId !== selfId)
    const members = new Set(entries.map(e => e.peerId))
    const ownAddrs = this.init.selfAddrs()
    const policy: AddrPolicy = {
      allowLoopback: ownAddrs.length > 0 && ownAddrs.every(isLoopbackAddr),
      isMember: id => members.has(id),
      selfId
    }
    for (const known of [...this.fed.keys()]) {
      if (!members.has(known)) { this.fed.delete(known); this.ids.delete(known) }
    }
    // online members first, so the bound keeps the ones that matter now
    const rank = (e: PeerEntry): number => e.status === 'online' ? 0 : e.status === 'stale' ? 1 : 2
    const kept = entries.sort((a, b) => rank(a) - rank(b)).slice(0, MAX_KEPT_MEMBERS)
    for (const entry of kept) {
      const id = this.peerIdOf(entry.peerId)
      if (id === undefined) continue
      // the relay check depends on who is a member: members joining or leaving re-filter
      const key = `${String(policy.allowLoopback)} ${members.size} ${entry.addrs.join(' ')}`
      let addrs = this.fed.get(entry.peerId)?.key === key ? this.fed.get(entry.peerId)?.addrs : undefined
      if (addrs === undefined) {
        addrs = dialableAddrs(entry.peerId, entry.addrs, policy)
        this.fed.set(entry.peerId, { key, addrs })
        for (const d of addrs.dropped) log.debug('not dialling %s of %s: %s', d.addr, entry.name, d.reason)
        const multiaddrs = [...addrs.direct, ...addrs.relayed]
        if (multiaddrs.length > 0) {
          libp2p.peerStore.merge(id, { multiaddrs }).catch((err: unknown) => {
            log.debug('peer store: could not add the addresses of %s: %s', entry.name, errorMessage(err))
          })
        }
      }
      dialer.keep(id, addrs.direct, addrs.relayed)
    }
  }
}
