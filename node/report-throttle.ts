/**
 * One log line per source and window: a flood of rejected messages or refused connections from
 * one source writes one line a minute, and the next line says how many it stood for
 * (issue 17 finding 14: a WARN line per rejected gossip message let a member flood the log).
 */

/** How long one source stays quiet after a reported line (ms). */
export const REPORT_WINDOW_MS = 60_000
/** Sources remembered at once; the oldest is forgotten first (a flood of fresh sources stays bounded). */
export const MAX_REPORT_SOURCES = 1024

export class ReportThrottle {
  private readonly seen = new Map<string, { last: number, suppressed: number }>()
  private readonly windowMs: number
  private readonly maxSources: number

  constructor (opts: { windowMs?: number, maxSources?: number } = {}) {
    this.windowMs = opts.windowMs ?? REPORT_WINDOW_MS
    this.maxSources = opts.maxSources ?? MAX_REPORT_SOURCES
  }

  /**
   * Whether to report an event of `key` now; when yes, `more` is how many were left unreported
   * since its last report (0 the first time).
   */
  take (key: string, now: number): { report: false } | { report: true, more: number } {
    const s = this.seen.get(key)
    if (s !== undefined && now - s.last < this.windowMs) {
      s.suppressed++
      return { report: false }
    }
    const more = s?.suppressed ?? 0
    this.seen.delete(key)
    if (this.seen.size >= this.maxSources) {
      const oldest = this.seen.keys().next()
      if (oldest.done !== true) this.seen.delete(oldest.value)
    }
    this.seen.set(key, { last: now, suppressed: 0 })
    return { report: true, more }
  }
}

/** ` (and N more from SOURCE in the last minute)`, or nothing. */
export function moreSuffix (more: number, source: string): string {
  return more > 0 ? ` (and ${more} more from ${source} since)` : ''
}
