/**
 * Liveness without per-peer chatter (SWIM's probe, on libp2p): every PROBE_INTERVAL_MS the
 * node probes ONE directly connected member, round robin, with a yamux ping frame on the open
 * connection (12 bytes each way; measured: a stream opened and closed for each probe cost five
 * times the bytes), or, on a muxer without ping, by opening and closing a stream of
 * PROBE_PROTOCOL. An answer marks the member alive; a failure
 * marks it suspect (`stale` in the view); PROBE_FAILURES_TO_DROP failures in a row close the
 * connection, so the member goes `offline` and the dialer starts re-dialling it.
 *
 * Why not libp2p's connection monitor: it pings every connection every 10 s from both sides,
 * so an idle node's cost grows with the mesh (19 pings per 10 s at 20 hosts, 499 at 500).
 * Here it is one probe a second at any size. A member that crashes or stops closes its TCP
 * connections at once (the kernel answers with FIN or RST), so probing only has to catch hosts
 * that vanish silently (power, cable, partition): each member is probed by someone about every
 * PROBE_INTERVAL_MS (every node probes one), and by a given node every N * PROBE_INTERVAL_MS.
 */
import type { PeerId, Stream } from '@libp2p/interface'
import { errorMessage } from '../../protocols/errors.js'
import { PROBE_PROTOCOL } from '../../protocols/ids.js'
import { PROBE_FAILURES_TO_DROP, PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS } from '../../protocols/limits.js'
import type { Logger } from '../logger.js'
import type { ProcmeshLibp2p } from './libp2p.js'
import type { MeshView } from './mesh-view.js'
import { monoNow } from './clock.js'

/** Probes served at once per connection: a member probes each peer once per round. */
const MAX_INBOUND_PROBES = 4

export interface ProberInit {
  libp2p: ProcmeshLibp2p
  view: MeshView
  log: Logger
  intervalMs?: number
  timeoutMs?: number
}

export class LivenessProber {
  private readonly init: ProberInit
  private readonly intervalMs: number
  private readonly timeoutMs: number
  private timer?: NodeJS.Timeout
  private running = false
  private next = 0
  private readonly failures = new Map<string, number>()
  private probing = false

  constructor (init: ProberInit) {
    this.init = init
    this.intervalMs = init.intervalMs ?? PROBE_INTERVAL_MS
    this.timeoutMs = init.timeoutMs ?? PROBE_TIMEOUT_MS
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    await this.init.libp2p.handle(PROBE_PROTOCOL, this.onProbe, { maxInboundStreams: MAX_INBOUND_PROBES, maxOutboundStreams: MAX_INBOUND_PROBES })
    this.schedule()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    clearTimeout(this.timer)
    await this.init.libp2p.unhandle(PROBE_PROTOCOL)
  }

  private readonly onProbe = (stream: Stream): void => {
    // the negotiation already answered the prober; nothing to read or write
    stream.close().catch(() => { stream.abort(new Error('probe close failed')) })
  }

  private schedule (): void {
    this.timer = setTimeout(() => {
      this.round().catch((err: unknown) => { this.init.log.debug('probe round failed: %s', errorMessage(err)) }).finally(() => {
        if (this.running) this.schedule()
      })
    }, this.intervalMs)
    this.timer.unref()
  }

  /** Probe the next connected member of the view. */
  private async round (): Promise<void> {
    if (this.probing) return
    const { libp2p, view } = this.init
    const candidates = view.members().filter(id => view.isConnected(id))
    if (candidates.length === 0) return
    const peerId = candidates[this.next++ % candidates.length]
    const conn = libp2p.getConnections().find(c => c.remotePeer.toString() === peerId && c.status === 'open')
    if (conn === undefined) return
    this.probing = true
    try {
      await this.probe(conn.remotePeer, peerId)
    } finally {
      this.probing = false
    }
  }

  /** One probe of one peer; public so a suspicion can be checked at once. */
  async probe (remote: PeerId, peerId = remote.toString()): Promise<boolean> {
    const { libp2p, view, log } = this.init
    const conn = libp2p.getConnections(remote).find(c => c.status === 'open')
    if (conn === undefined) return false
    const signal = AbortSignal.timeout(this.timeoutMs)
    try {
      const muxer = Reflect.get(conn, 'muxer')
      if (hasPing(muxer)) {
        // a yamux ping frame: 12 bytes each way on the open connection, no stream at all
        await muxer.ping({ signal })
      } else {
        const stream = await conn.newStream(PROBE_PROTOCOL, { signal })
        await stream.close({ signal }).catch(() => { stream.abort(new Error('probe close failed')) })
      }
      this.failures.delete(peerId)
      view.probeOk(peerId, monoNow())
      return true
    } catch (err: unknown) {
      // a node of an older version answers "not supported": it is alive all the same
      if (err instanceof Error && err.name === 'UnsupportedProtocolError') {
        view.probeOk(peerId, monoNow())
        return true
      }
      const n = (this.failures.get(peerId) ?? 0) + 1
      this.failures.set(peerId, n)
      view.probeFailed(peerId, monoNow())
      log.info('probe of %s failed (%d in a row): %s', peerId, n, errorMessage(err))
      if (n >= PROBE_FAILURES_TO_DROP) {
        this.failures.delete(peerId)
        log.info('dropping the connection to %s: it stopped answering', peerId)
        await libp2p.hangUp(remote).catch((e: unknown) => { log.debug('hang up %s: %s', peerId, errorMessage(e)) })
      } else if (this.running) {
        // a suspect is probed again at once rather than at its turn in the round
        setTimeout(() => { this.probe(remote, peerId).catch(() => {}) }, this.intervalMs).unref()
      }
      return false
    }
  }
}

interface Pingable { ping: (options: { signal: AbortSignal }) => Promise<number> }

/** The connection's muxer, when it can ping (yamux can; the field is not in libp2p's types). */
function hasPing (muxer: unknown): muxer is Pingable {
  return typeof muxer === 'object' && muxer !== null && typeof (muxer as Partial<Pingable>).ping === 'function'
}
