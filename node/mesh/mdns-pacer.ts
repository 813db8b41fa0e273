/**
 * mDNS quiet once settled: the mDNS service itself queries only at start (MDNS_INTERVAL_MS is a day);
 * while this node has no connection at all it asks every MDNS_SEARCH_INTERVAL_MS instead, so
 * a node that starts alone, or lost every peer (a cable, a partition), finds the LAN again at
 * once. Restarting the service is how @libp2p/mdns sends a query now (it queries on start).
 * Answers are unaffected: every node answers every query, as mDNS requires.
 */
import { errorMessage } from '../../protocols/errors.js'
import type { Startable } from '@libp2p/interface'
import type { Logger } from '../logger.js'
import { MDNS_SEARCH_INTERVAL_MS, type ProcmeshLibp2p } from './libp2p.js'

/** Senders remembered (peer id -> IP of the last answer naming it), oldest forgotten first. */
const MAX_SENDERS = 4096

/** The parts of a multicast-dns instance (the service's private `mdns` field) this reads. */
interface AnswerSource {
  on: (event: 'response', listener: (packet: unknown, rinfo: { address?: unknown }) => void) => unknown
  removeListener: (event: 'response', listener: (packet: unknown, rinfo: { address?: unknown }) => void) => unknown
}

export class MdnsPacer {
  private readonly libp2p: ProcmeshLibp2p
  private readonly log: Logger
  private timer?: NodeJS.Timeout
  private running = false
  /**
   * Who sent the answer naming a peer (issue 17 finding 10): @libp2p/mdns reports a discovered
   * peer and its addresses but not the sender of the answer, so its multicast-dns socket is
   * listened to as well (the same packet, just after the service parsed it and before libp2p
   * emits peer:discovery). The dialer dials only addresses at the sender's IP.
   */
  private readonly senders = new Map<string, string>()
  private source?: AnswerSource

  constructor (libp2p: ProcmeshLibp2p, log: Logger) {
    this.libp2p = libp2p
    this.log = log
  }

  start (): void {
    if (this.running || this.libp2p.services.mdns === undefined) return
    this.running = true
    this.listen()
    this.schedule()
  }

  stop (): void {
    this.running = false
    clearTimeout(this.timer)
    this.source?.removeListener('response', this.onResponse)
    this.source = undefined
  }

  /** The IP address that sent the latest mDNS answer naming `peerId`, when seen. */
  senderOf (peerId: string): string | undefined {
    return this.senders.get(peerId)
  }

  /** Listen to the service's current socket (a restart makes a new one). */
  private listen (): void {
    const socket: unknown = Reflect.get(this.libp2p.services.mdns ?? {}, 'mdns')
    if (!isAnswerSource(socket) || socket === this.source) return
    this.source?.removeListener('response', this.onResponse)
    socket.on('response', this.onResponse)
    this.source = socket
  }

  private readonly onResponse = (packet: unknown, rinfo: { address?: unknown }): void => {
    if (typeof rinfo?.address !== 'string') return
    for (const id of answeredPeerIds(packet)) {
      this.senders.delete(id)
      this.senders.set(id, rinfo.address)
      if (this.senders.size > MAX_SENDERS) this.senders.delete(this.senders.keys().next().value ?? '')
    }
  }

  private schedule (): void {
    this.timer = setTimeout(() => {
      this.tick().catch((err: unknown) => { this.log.debug('mDNS search failed: %s', errorMessage(err)) }).finally(() => {
        if (this.running) this.schedule()
      })
    }, MDNS_SEARCH_INTERVAL_MS)
    this.timer.unref()
  }

  private async tick (): Promise<void> {
    const mdns = this.libp2p.services.mdns
    if (!isStartable(mdns) || this.libp2p.getConnections().length > 0) return
    await mdns.stop()
    if (this.running) {
      await mdns.start()
      this.listen()
    }
  }
}

function isStartable (value: unknown): value is Startable {
  return typeof value === 'object' && value !== null && typeof (value as Partial<Startable>).start === 'function' && typeof (value as Partial<Startable>).stop === 'function'
}

function isAnswerSource (value: unknown): value is AnswerSource {
  return typeof value === 'object' && value !== null && typeof (value as Partial<AnswerSource>).on === 'function' && typeof (value as Partial<AnswerSource>).removeListener === 'function'
}

/** Peer ids named by the `dnsaddr=` TXT records of an mDNS answer (the libp2p mDNS format). */
export function answeredPeerIds (packet: unknown): string[] {
  if (typeof packet !== 'object' || packet === null) return []
  const records = [...asArray(Reflect.get(packet, 'answers')), ...asArray(Reflect.get(packet, 'additionals'))]
  const ids = new Set<string>()
  for (const r of records) {
    if (typeof r !== 'object' || r === null || Reflect.get(r, 'type') !== 'TXT') continue
    for (const d of asArray(Reflect.get(r, 'data'))) {
      const text = typeof d === 'string' ? d : d instanceof Uint8Array ? Buffer.from(d).toString('utf8') : ''
      const m = /^dnsaddr=.*\/p2p\/([^/]+)$/.exec(text)
      if (m !== null) ids.add(m[1])
    }
  }
  return [...ids]
}

function asArray (v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v]
}
