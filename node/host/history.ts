/** A bounded ring of this host's own recent samples in memory, served to peers for sparklines and live figures. */
import type { HistoryPoint, HistoryResult } from '../../protocols/messages.js'
import type { Snapshot } from '../../protocols/types.js'

/** The ring keeps one hour of samples (the durable history on disk keeps days: history/store.ts). */
export const RING_RETENTION_MS = 60 * 60 * 1000
/** However long the retention, never more points than this (memory bound: ~100 B a point). */
export const MAX_HISTORY_RING_POINTS = 86_400

export class HistoryRing {
  private readonly points: HistoryPoint[] = []
  private readonly capacity: number
  private head = 0
  private memTotal = 0
  readonly intervalMs: number

  constructor (intervalMs: number, retentionMs = RING_RETENTION_MS) {
    this.intervalMs = intervalMs
    this.capacity = Math.max(1, Math.min(MAX_HISTORY_RING_POINTS, Math.ceil(retentionMs / intervalMs)))
  }

  add (snap: Snapshot): void {
    this.memTotal = snap.host.memTotal
    const point: HistoryPoint = {
      at: snap.collectedAt,
      cpuPercent: Math.round(snap.host.cpuPercent * 10) / 10,
      memUsed: snap.host.memUsed,
      load1: Math.round(snap.host.load[0] * 100) / 100,
      procCount: snap.processes.length
    }
    if (this.points.length < this.capacity) this.points.push(point)
    else { this.points[this.head] = point; this.head = (this.head + 1) % this.capacity }
  }

  /** Points in time order, optionally only those after `since` (ms epoch). */
  query (since = 0): HistoryResult {
    const ordered = this.points.length < this.capacity ? this.points : [...this.points.slice(this.head), ...this.points.slice(0, this.head)]
    return { intervalMs: this.intervalMs, memTotal: this.memTotal, points: ordered.filter(p => p.at > since) }
  }
}
