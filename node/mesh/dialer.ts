/**
 * libp2p 3 has no auto-dialer: this dials every discovered peer once, dials the
 * bootstrap addresses, and re-dials a dropped peer with exponential backoff.
 */
import type { PeerId, PeerInfo } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { DIAL_TIMEOUT_MS, REDIAL_BASE_MS, REDIAL_MAX_MS } from '../../protocols/limits.js'
import { errorMessage } from '../../protocols/errors.js'
import type { ProcmeshLibp2p } from './libp2p.js'
import type { Logger } from '../logger.js'

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
  }

  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const { id, multiaddrs } = evt.detail
    if (id.equals(this.libp2p.peerId)) return
    const key = id.toString()
    const existing = this.targets.get(key)
    if (existing !== undefined) {
      existing.dial = multiaddrs.length > 0 ? multiaddrs.map(m => m.encapsulate(`/p2p/${key}`)) : id
      existing.failingSince = undefined
      if (existing.timer !== undefined && !this.isConnected(key)) { clearTimeout(existing.timer); existing.timer = undefined; this.attempt(key) }
      return
    }
    this.targets.set(key, { key, dial: multiaddrs.length > 0 ? multiaddrs.map(m => m.encapsulate(`/p2p/${key}`)) : id, attempt: 0, dialling: false, permanent: false })
    if (!this.isConnected(key)) this.attempt(key)
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    const key = evt.detail.toString()
    const t = this.targets.get(key)
    if (t !== undefined) { t.attempt = 0; t.failingSince = undefined; clearTimeout(t.timer); t.timer = undefined }
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

  private schedule (key: string): void {
    const t = this.targets.get(key)
    if (t === undefined || !this.running || t.timer !== undefined || t.dialling) return
    const delay = backoffDelay(t.attempt)
    t.timer = setTimeout(() => { t.timer = undefined; this.attempt(key) }, delay)
    t.timer.unref()
  }

  private attempt (key: string): void {
    const t = this.targets.get(key)
    if (t === undefined || !this.running || t.dialling) return
    t.dialling = true
    this.libp2p.dial(t.dial, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).then(conn => {
      t.dialling = false
      t.attempt = 0
      t.failingSince = undefined
      if (t.permanent) this.bootstrapByPeer.set(conn.remotePeer.toString(), key)
    }, (err: unknown) => {
      t.dialling = false
      if (!this.running) return
      const now = Date.now()
      t.failingSince ??= now
      t.attempt++
      this.log.debug('dial %s failed (attempt %d): %s', key, t.attempt, errorMessage(err))
      if (!t.permanent && now - t.failingSince > GIVE_UP_AFTER_MS) {
        this.targets.delete(key)
        return
      }
      this.schedule(key)
    })
  }
}
