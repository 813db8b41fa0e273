/**
 * One collector shared by the announcer and the list protocol. Samples are
 * serialised (CPU% is a delta against the previous sample, so two overlapping
 * scans would corrupt each other) and concurrent callers share one scan.
 */
import type { ProcessInfo, Snapshot } from '../../protocols/types.js'

export interface Collector {
  sample: () => Promise<Snapshot>
  /** the same processes with RSS read exactly (see ProcessCollector.exactRss); optional */
  exactRss?: (processes: readonly ProcessInfo[]) => ProcessInfo[]
}

/** A list served from a snapshot this young needs no new scan (ms). */
export const FRESH_ENOUGH_MS = 250

export class SharedSampler {
  private readonly collector: Collector
  private inFlight?: Promise<Snapshot>
  private inFlightGeneration = -1
  private latestSnap?: Snapshot
  private latestGeneration = -1
  /** bumped when this node changes its own process table (a start or a stop) */
  private generation = 0

  constructor (collector: Collector) {
    this.collector = collector
  }

  get latest (): Snapshot | undefined {
    return this.latestSnap
  }

  /** Take a new sample, or join the one in progress if it began after the last invalidate(). */
  sample (): Promise<Snapshot> {
    if (this.inFlight !== undefined && this.inFlightGeneration >= this.generation) return this.inFlight
    const generation = this.generation
    const previous = this.inFlight ?? Promise.resolve()
    const scan = previous.catch(() => {}).then(async () => await this.collector.sample()).then(snap => {
      if (generation >= this.latestGeneration) { this.latestSnap = snap; this.latestGeneration = generation }
      return snap
    }).finally(() => { if (this.inFlight === scan) this.inFlight = undefined })
    this.inFlight = scan
    this.inFlightGeneration = generation
    return scan
  }

  /** A snapshot no older than maxAgeMs, taken after the last invalidate(). */
  async fresh (maxAgeMs = FRESH_ENOUGH_MS, now = Date.now()): Promise<Snapshot> {
    if (this.latestSnap !== undefined && this.latestGeneration >= this.generation && now - this.latestSnap.collectedAt <= maxAgeMs) return this.latestSnap
    return await this.sample()
  }

  /** RSS as ps reads it for the processes an answer names (a sample reads an approximation for most). */
  exactRss (processes: readonly ProcessInfo[]): ProcessInfo[] {
    return this.collector.exactRss?.(processes) ?? [...processes]
  }

  /** The process table changed here: the next list must not be served from an older scan. */
  invalidate (): void {
    this.generation++
  }
}
