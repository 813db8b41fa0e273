/**
 * One collector shared by the announcer and the list protocol. Samples are
 * serialised (CPU% is a delta against the previous sample, so two overlapping
 * scans would corrupt each other) and concurrent callers share one scan.
 */
import type { Snapshot } from '../protocols/types.js'

export interface Collector { sample: () => Promise<Snapshot> }

/** A list served from a snapshot this young needs no new scan (ms). */
export const FRESH_ENOUGH_MS = 250

export class SharedSampler {
  private readonly collector: Collector
  private inFlight?: Promise<Snapshot>
  private latestSnap?: Snapshot

  constructor (collector: Collector) {
    this.collector = collector
  }

  get latest (): Snapshot | undefined {
    return this.latestSnap
  }

  /** Take a new sample, or join the one in progress. */
  sample (): Promise<Snapshot> {
    this.inFlight ??= this.collector.sample().then(snap => {
      this.latestSnap = snap
      return snap
    }).finally(() => { this.inFlight = undefined })
    return this.inFlight
  }

  /** A snapshot no older than maxAgeMs. */
  async fresh (maxAgeMs = FRESH_ENOUGH_MS, now = Date.now()): Promise<Snapshot> {
    if (this.latestSnap !== undefined && now - this.latestSnap.collectedAt <= maxAgeMs) return this.latestSnap
    return await this.sample()
  }
}
