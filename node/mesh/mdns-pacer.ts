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

export class MdnsPacer {
  private readonly libp2p: ProcmeshLibp2p
  private readonly log: Logger
  private timer?: NodeJS.Timeout
  private running = false

  constructor (libp2p: ProcmeshLibp2p, log: Logger) {
    this.libp2p = libp2p
    this.log = log
  }

  start (): void {
    if (this.running || this.libp2p.services.mdns === undefined) return
    this.running = true
    this.schedule()
  }

  stop (): void {
    this.running = false
    clearTimeout(this.timer)
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
    if (this.running) await mdns.start()
  }
}

function isStartable (value: unknown): value is Startable {
  return typeof value === 'object' && value !== null && typeof (value as Partial<Startable>).start === 'function' && typeof (value as Partial<Startable>).stop === 'function'
}
