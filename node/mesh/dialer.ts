/**
 * libp2p 3 has no auto-dialer: this dials every discovered peer once, dials the
 * bootstrap addresses, re-dials a dropped peer with exponential backoff, and holds a
 * connection to every member the reach keeper names (node/mesh/reach.ts): directly
 * where it can, through a relay when the direct addresses fail, and a member reached
 * only through a relay keeps being tried directly (with the same backoff).
 */
import type { PeerId, PeerInfo } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import {
  DIAL_TIMEOUT_MS, DISCOVERED_DIAL_ATTEMPTS, DISCOVERIES_PER_HOST_PER_MINUTE, MAX_CONCURRENT_DIALS, MAX_DISCOVERED_TARGETS, REDIAL_BASE_MS, REDIAL_MAX_MS
} from '../../protocols/limits.js'
import { hostPart } from '../security/admission.js'
import { monoNow } from './clock.js'
import { errorMessage } from '../../protocols/errors.js'
import type { ProcmeshLibp2p } from './libp2p.js'
import type { Logger } from '../logger.js'
import { isRelayed } from './relay.js'

/** Refused discoveries remembered (oldest forgotten first): bounded against a flood of fresh ids. */
const MAX_STRANGERS = 4096

/** A peer that could not be reached for this long is left to discovery to find again. */
const GIVE_UP_AFTER_MS = 10 * 60 * 1000

interface Target {
  key: string
  dial: Multiaddr[] | PeerId
  attempt: number
  timer?: NodeJS.Timeout
  dialling: boolean
  failingSince?: number
  /** bootstrap addresses are retried forever; discovered peers until GIVE_UP_AFTER_MS */
  permanent: boolean
  /** relay addresses of a member, tried when the direct dial fails (with /p2p/PEER) */
  relayed?: Multiaddr[]
  /** the member's id, when known (reach.ts): its connections are looked up by it */
  peer?: PeerId
  /**
   * known only from a discovery answer (mDNS): never connected, not a member of the view.
   * Anyone on the LAN can send such answers naming any address (issue 17 finding 10), so these
   * are bounded in number, rate per advertised host and attempts.
   */
  discovered?: boolean
}

/** An address without its trailing /p2p/ID: the unit libp2p refuses two connections to. */
export function bareAddr (ma: Multiaddr | string): string {
  return ma.toString().replace(/\/p2p\/[^/]+$/, '')
}

/** The IP address of a multiaddr (`/ip4/10.0.0.1/tcp/4001` -> `10.0.0.1`), if it has one. */
function ipOf (ma: Multiaddr): string | undefined {
  return /^\/ip[46]\/([^/]+)/.exec(ma.toString())?.[1]
}

/** Delay before retry number `attempt` (0-based): exponential with jitter, capped. */
export function backoffDelay (attempt: number, random = Math.random()): number {
  const base = Math.min(REDIAL_MAX_MS, REDIAL_BASE_MS * 2 ** Math.min(attempt, 16))
  return Math.round(base * (0.75 + random * 0.5))
}

export class PeerDialer {
  private readonly libp2p: ProcmeshLibp2p
  private readonly log: Logger
  private readonly bootstrap: string[]
  private readonly targets = new Map<string, Target>()
  private running = false
  /** bootstrap target key by the peer id it turned out to be */
  private readonly bootstrapByPeer = new Map<string, string>()
  /**
   * Addresses (bare, see bareAddr) being dialled, by target key. A bootstrap address and the
   * same address from mDNS (with /p2p/ID) are different dial targets to libp2p's queue, so both
   * dials ran and libp2p aborted the second connection as a "Duplicate multiaddr connection"
   * after both sides had opened it (issue 19 item 6): one dial per address at a time.
   */
  private readonly inflight = new Map<string, string>()
  /** advertised host -> when discoveries naming it were taken (monotonic ms, the last minute) */
  private readonly discoveriesByHost = new Map<string, number[]>()
  /** dials under way (all targets) */
  private dialling = 0
  /** discovery answers not taken (bounds, rate), for tests and the log */
  discoveriesRefused = 0
  /**
   * Peer ids known only from discovery answers that were refused or failed: nobody on this node
   * dials them (refuses(), through the connection gater). libp2p's circuit-relay transport dials
   * every discovered peer while it looks for a relay, with an unbounded queue: it alone kept
   * dialling a spoofed address after the spoofing stopped.
   */
  private readonly strangers = new Set<string>()

  /** the IP that sent the mDNS answer naming a peer, when known (MdnsPacer.senderOf) */
  senderOf?: (peerId: string) => string | undefined

  constructor (libp2p: ProcmeshLibp2p, bootstrap: string[], log: Logger) {
    this.libp2p = libp2p
    this.bootstrap = bootstrap
    this.log = log
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.libp2p.addEventListener('peer:discovery', this.onDiscovery)
    this.libp2p.addEventListener('peer:connect', this.onConnect)
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    // listening before libp2p starts matters: mDNS queries the LAN the moment it starts, and
    // an answer that arrived before we listened would wait for the next query interval
    if (this.libp2p.status === 'started') this.dialBootstrap()
    else this.libp2p.addEventListener('start', this.dialBootstrap, { once: true })
  }

  private readonly dialBootstrap = (): void => {
    if (!this.running) return
    for (const addr of this.bootstrap) {
      const key = `bootstrap:${addr}`
      this.targets.set(key, { key, dial: [multiaddr(addr)], attempt: 0, dialling: false, permanent: true })
      this.attempt(key)
    }
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    this.libp2p.removeEventListener('peer:connect', this.onConnect)
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    this.libp2p.removeEventListener('start', this.dialBootstrap)
    for (const t of this.targets.values()) clearTimeout(t.timer)
    this.targets.clear()
    this.inflight.clear()
    this.discoveriesByHost.clear()
    this.strangers.clear()
  }

  /**
   * Hold a connection to member `id` at the addresses it announced (`direct`, then
   * `relayed`; both without /p2p/ID). Idempotent: called every reach tick, it dials
   * only a member that is not connected (or only relayed, when it has direct
   * addresses) and has no dial pending or scheduled.
   */
  keep (id: PeerId, direct: Multiaddr[], relayed: Multiaddr[]): void {
    if (!this.running || id.equals(this.libp2p.peerId)) return
    const key = id.toString()
    const suffix = `/p2p/${key}`
    const directAddrs = direct.map(m => m.encapsulate(suffix))
    const relayAddrs = relayed.map(m => m.encapsulate(suffix))
    let t = this.targets.get(key)
    this.strangers.delete(key)
    if (t === undefined) {
      t = { key, dial: directAddrs.length > 0 ? directAddrs : id, attempt: 0, dialling: false, permanent: false, peer: id }
      this.targets.set(key, t)
    } else if (directAddrs.length > 0) {
      t.discovered = false
      // the member's own signed announcement wins over what discovery said
      t.dial = directAddrs
    }
    t.relayed = relayAddrs
    t.peer = id
    if (t.timer !== undefined || t.dialling) return
    const reach = this.reachOf(t)
    if (reach === 'direct' || (reach === 'relayed' && directAddrs.length === 0)) return
    this.attempt(key)
  }

  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const { id } = evt.detail
    if (id.equals(this.libp2p.peerId)) return
    const key = id.toString()
    // an answer may only send us to its sender: a spoofer naming a third host's address is ignored
    const sender = this.senderOf?.(key)
    const multiaddrs = sender === undefined ? evt.detail.multiaddrs : evt.detail.multiaddrs.filter(m => ipOf(m) === sender)
    if (sender !== undefined && multiaddrs.length === 0) {
      this.addStranger(key)
      this.discoveriesRefused++
      if (this.discoveriesRefused % 100 === 1) this.log.warn('discovery of %s not dialled: the mDNS answer from %s names only other hosts (%s) (%d refused so far)', key, sender, evt.detail.multiaddrs.map(m => m.toString()).join(' '), this.discoveriesRefused)
      return
    }
    const existing = this.targets.get(key)
    if (existing !== undefined) {
      existing.dial = multiaddrs.length > 0 ? multiaddrs.map(m => m.encapsulate(`/p2p/${key}`)) : id
      // an answer repeated by a spoofer must not turn into a dial per answer: only a member we
      // know (not a bare discovery) that is backing off is tried again at once
      if (existing.discovered === true) return
      existing.failingSince = undefined
      if (existing.timer !== undefined && !this.isConnected(key)) { clearTimeout(existing.timer); existing.timer = undefined; this.attempt(key) }
      return
    }
    if (this.isConnected(key)) return
    const refusal = this.admitDiscovery(multiaddrs)
    if (refusal !== undefined) {
      this.addStranger(key)
      this.discoveriesRefused++
      if (this.discoveriesRefused % 100 === 1) this.log.warn('discovery of %s not dialled: %s (%d refused so far)', key, refusal, this.discoveriesRefused)
      return
    }
    this.targets.set(key, { key, dial: multiaddrs.length > 0 ? multiaddrs.map(m => m.encapsulate(`/p2p/${key}`)) : id, attempt: 0, dialling: false, permanent: false, discovered: true })
    this.attempt(key)
  }

  /** True for a peer nobody on this node should dial: known only from a refused or failed discovery. */
  refuses (peer: PeerId): boolean {
    const key = peer.toString()
    return this.strangers.has(key) && !this.isConnected(key)
  }

  private addStranger (key: string): void {
    this.strangers.delete(key)
    this.strangers.add(key)
    if (this.strangers.size > MAX_STRANGERS) this.strangers.delete(this.strangers.values().next().value ?? '')
  }

  /** Why a new discovered peer at these addresses is not taken, or undefined to take it. */
  private admitDiscovery (multiaddrs: Multiaddr[]): string | undefined {
    let pending = 0
    for (const t of this.targets.values()) if (t.discovered === true) pending++
    if (pending >= MAX_DISCOVERED_TARGETS) return `${pending} discovered peers not yet reached (at most ${MAX_DISCOVERED_TARGETS})`
    const now = monoNow()
    const hosts = [...new Set(multiaddrs.map(m => hostPart(m.toString())))]
    for (const h of hosts) {
      const recent = (this.discoveriesByHost.get(h) ?? []).filter(at => now - at < 60_000)
      if (recent.length >= DISCOVERIES_PER_HOST_PER_MINUTE) return `${recent.length} peers discovered at ${h} in the last minute (at most ${DISCOVERIES_PER_HOST_PER_MINUTE})`
    }
    for (const h of hosts) {
      const recent = (this.discoveriesByHost.get(h) ?? []).filter(at => now - at < 60_000)
      this.discoveriesByHost.set(h, [...recent, now])
    }
    // forget hosts not seen for a minute, so the map stays as small as the LAN
    if (this.discoveriesByHost.size > MAX_DISCOVERED_TARGETS * 4) {
      for (const [h, times] of this.discoveriesByHost) if (times.every(at => now - at >= 60_000)) this.discoveriesByHost.delete(h)
    }
    return undefined
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    const key = evt.detail.toString()
    this.strangers.delete(key)
    const t = this.targets.get(key)
    if (t !== undefined) { t.attempt = 0; t.failingSince = undefined; t.discovered = false; clearTimeout(t.timer); t.timer = undefined }
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    if (!this.running) return
    const key = evt.detail.toString()
    // a peer that connected to us unprompted is dialled back by its id as well
    if (!this.targets.has(key)) this.targets.set(key, { key, dial: evt.detail, attempt: 0, dialling: false, permanent: false })
    const viaBootstrap = this.bootstrapByPeer.get(key)
    this.schedule(viaBootstrap ?? key)
  }

  private isConnected (key: string): boolean {
    return this.libp2p.getConnections().some(c => c.remotePeer.toString() === key)
  }

  private reachOf (t: Target): 'direct' | 'relayed' | 'none' {
    const all = t.peer !== undefined ? this.libp2p.getConnections(t.peer) : this.libp2p.getConnections().filter(c => c.remotePeer.toString() === t.key)
    const conns = all.filter(c => c.status === 'open')
    if (conns.length === 0) return 'none'
    return conns.some(c => !isRelayed(c.remoteAddr)) ? 'direct' : 'relayed'
  }

  /** The direct dial, then (a member not connected at all) its relay addresses. */
  private async dialTarget (t: Target): Promise<{ remotePeer: PeerId, relayedOnly: boolean }> {
    const opts = { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }
    try {
      const conn = await this.libp2p.dial(t.dial, opts)
      return { remotePeer: conn.remotePeer, relayedOnly: isRelayed(conn.remoteAddr) }
    } catch (err: unknown) {
      const relayed = t.relayed ?? []
      if (relayed.length === 0 || this.reachOf(t) !== 'none') throw err
      this.log.debug('dial %s failed (%s); trying its relays', t.key, errorMessage(err))
      const conn = await this.libp2p.dial(relayed, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      return { remotePeer: conn.remotePeer, relayedOnly: true }
    }
  }

  private schedule (key: string): void {
    const t = this.targets.get(key)
    if (t === undefined || !this.running || t.timer !== undefined || t.dialling) return
    const delay = backoffDelay(t.attempt)
    t.timer = setTimeout(() => { t.timer = undefined; this.attempt(key) }, delay)
    t.timer.unref()
  }

  /** The peer an open connection to one of these (bare) addresses belongs to, if any. */
  private connectedAt (addrs: string[]): PeerId | undefined {
    if (addrs.length === 0) return undefined
    const wanted = new Set(addrs)
    return this.libp2p.getConnections().find(c => c.status === 'open' && wanted.has(bareAddr(c.remoteAddr)))?.remotePeer
  }

  private attempt (key: string): void {
    const t = this.targets.get(key)
    if (t === undefined || !this.running || t.dialling) return
    const addrs = Array.isArray(t.dial) ? t.dial.map(bareAddr) : []
    if (t.permanent) {
      // a bootstrap address (no peer id) already connected: dialling it again would open a
      // second connection to the same address, which libp2p aborts after both sides saw it
      const peer = this.connectedAt(addrs)
      if (peer !== undefined) {
        this.bootstrapByPeer.set(peer.toString(), key)
        t.attempt = 0
        t.failingSince = undefined
        return
      }
    }
    if (addrs.some(a => { const by = this.inflight.get(a); return by !== undefined && by !== key })) {
      // another target is dialling the same address: its result will do for both
      this.schedule(key)
      return
    }
    if (this.dialling >= MAX_CONCURRENT_DIALS) {
      // a burst of targets is dialled a few at a time
      this.schedule(key)
      return
    }
    t.dialling = true
    this.dialling++
    for (const a of addrs) this.inflight.set(a, key)
    const done = (): void => {
      t.dialling = false
      this.dialling--
      for (const a of addrs) if (this.inflight.get(a) === key) this.inflight.delete(a)
    }
    this.dialTarget(t).then(({ remotePeer, relayedOnly }) => {
      done()
      if (t.permanent) this.bootstrapByPeer.set(remotePeer.toString(), key)
      if (relayedOnly && Array.isArray(t.dial) && t.dial.some(m => !isRelayed(m))) {
        // reached, but only through a relay: keep trying the direct addresses, backing off
        t.attempt++
        this.schedule(key)
        return
      }
      t.attempt = 0
      t.failingSince = undefined
    }, (err: unknown) => {
      done()
      if (!this.running) return
      const now = Date.now()
      t.failingSince ??= now
      t.attempt++
      this.log.debug('dial %s failed (attempt %d): %s', key, t.attempt, errorMessage(err))
      // a peer known only from a discovery answer that cannot be reached is forgotten quickly
      // (mDNS or the gossip of a member brings a real one back); a member keeps being tried
      if (t.discovered === true && t.attempt >= DISCOVERED_DIAL_ATTEMPTS) {
        this.targets.delete(key)
        this.addStranger(key)
        return
      }
      if (!t.permanent && now - t.failingSince > GIVE_UP_AFTER_MS) {
        this.targets.delete(key)
        return
      }
      this.schedule(key)
    })
  }
}
