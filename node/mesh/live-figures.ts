/**
 * Live detail on demand: gossip carries host figures only when they move past a threshold
 * (protocols/gossip.ts), so a viewer that shows hosts (the TUI, the web page) asks for live
 * figures of the hosts it shows with `peers { live }`. For each watched host this node pulls
 * the newest samples over the history protocol at most once per that host's interval and
 * overlays them on the host's entry; a host nobody asked about for WATCH_EXPIRY_INTERVALS of
 * its intervals is no longer pulled. An idle mesh with nobody watching pays nothing for it.
 */
import { errorMessage } from '../../protocols/errors.js'
import type { HistoryPoint, HistoryResult } from '../../protocols/messages.js'
import type { PeerEntry } from '../../protocols/types.js'
import type { Logger } from '../logger.js'

/** Hosts watched at once: a screen shows a few dozen; a request for more watches the first ones. */
export const MAX_LIVE_WATCHES = 64
/** A host not asked about for this many of its intervals stops being pulled. */
export const WATCH_EXPIRY_INTERVALS = 3

export type LiveSelector = 'all' | string[]

interface Watch {
  latest?: HistoryPoint
  fetchedAt: number
  inFlight: boolean
  askedAt: number
}

export interface LiveFiguresInit {
  /** pull samples of a peer since a time (the history protocol) */
  fetch: (peerId: string, since: number) => Promise<HistoryResult>
  log: Logger
}

export class LiveFigures {
  private readonly init: LiveFiguresInit
  private readonly watches = new Map<string, Watch>()
  /** counters for tests and the bench */
  readonly stats = { pulls: 0 }

  constructor (init: LiveFiguresInit) {
    this.init = init
  }

  /**
   * Entries with the newest pulled figures of the watched hosts laid over their summaries'
   * (the pulls this call starts land in the next answer, one interval later at most).
   */
  overlay (entries: PeerEntry[], live: LiveSelector, now: number): PeerEntry[] {
    const wanted = entries.filter(e => !e.self && e.status !== 'offline' && (live === 'all' || live.includes(e.peerId))).slice(0, MAX_LIVE_WATCHES)
    for (const e of wanted) this.refresh(e, now)
    this.expire(entries, now)
    return entries.map(e => {
      const w = this.watches.get(e.peerId)
      const p = w?.latest
      if (p === undefined || e.self) return e
      return {
        ...e,
        procCount: p.procCount,
        host: { ...e.host, cpuPercent: p.cpuPercent, memUsed: p.memUsed, load: [p.load1, e.host.load[1], e.host.load[2]] },
        liveAt: p.at
      }
    })
  }

  get watching (): number {
    return this.watches.size
  }

  private refresh (e: PeerEntry, now: number): void {
    let w = this.watches.get(e.peerId)
    if (w === undefined) {
      if (this.watches.size >= MAX_LIVE_WATCHES) return
      w = { fetchedAt: 0, inFlight: false, askedAt: now }
      this.watches.set(e.peerId, w)
    }
    w.askedAt = now
    const interval = e.host !== undefined ? this.intervalOf(e) : 2000
    if (w.inFlight || now - w.fetchedAt < interval) return
    w.inFlight = true
    w.fetchedAt = now
    this.stats.pulls++
    const watch = w
    const since = watch.latest?.at ?? now - 2 * interval
    this.init.fetch(e.peerId, since).then(result => {
      const last = result.points[result.points.length - 1]
      if (last !== undefined && (watch.latest === undefined || last.at > watch.latest.at)) watch.latest = last
    }, (err: unknown) => {
      this.init.log.debug('live figures of %s: %s', e.peerId, errorMessage(err))
    }).finally(() => { watch.inFlight = false }).catch(() => {})
  }

  private intervalOf (e: PeerEntry): number {
    return typeof e.intervalMs === 'number' ? e.intervalMs : 2000
  }

  private expire (entries: PeerEntry[], now: number): void {
    const interval = new Map(entries.map(e => [e.peerId, this.intervalOf(e)]))
    for (const [peerId, w] of this.watches) {
      if (now - w.askedAt > WATCH_EXPIRY_INTERVALS * (interval.get(peerId) ?? 2000)) this.watches.delete(peerId)
    }
  }
}
