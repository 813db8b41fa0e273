/** Small statistics for benchmark samples: medians, nearest-rank percentiles, ratios. */

export interface Stats {
  runs: number
  median: number
  /** nearest rank: with fewer than 100 runs this is the slowest one */
  p99: number
  min: number
  max: number
  mean: number
}

/** Summary of a non-empty sample; undefined for an empty one (every run failed or timed out). */
export function summarize (values: number[]): Stats | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return {
    runs: sorted.length,
    median,
    p99: percentile(sorted, 0.99),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length
  }
}

/** Nearest-rank percentile of an ascending array. */
export function percentile (sorted: number[], q: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}

/** A single value as Stats (one measurement over a window, e.g. CPU% over 60 s). */
export function single (value: number): Stats {
  return { runs: 1, median: value, p99: value, min: value, max: value, mean: value }
}

/** procmesh / peer of the medians, rounded for a table; undefined when either side is missing. */
export function ratio (procmesh: Stats | undefined, peer: Stats | undefined): number | undefined {
  if (procmesh === undefined || peer === undefined || peer.median === 0) return undefined
  return procmesh.median / peer.median
}

/**
 * Runs `rounds` rounds of the sides in turn (A B A B ..., the order flipped every other round, so
 * neither side always runs first after the pause between rounds) and collects each side's samples.
 * A side returns undefined for a failed run; failures are counted, not averaged in.
 */
export async function alternate<K extends string> (
  rounds: number,
  sides: Record<K, () => Promise<number | undefined>>,
  opts: { between?: () => Promise<void> } = {}
): Promise<Record<K, { values: number[], failures: number }>> {
  const names = Object.keys(sides) as K[]
  const out = {} as Record<K, { values: number[], failures: number }>
  for (const name of names) out[name] = { values: [], failures: 0 }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse()
    for (const name of order) {
      const value = await sides[name]()
      if (value === undefined) out[name].failures++
      else out[name].values.push(value)
      await opts.between?.()
    }
  }
  return out
}

/** Wall-clock milliseconds since the epoch with sub-millisecond resolution. */
export function nowMs (): number {
  return performance.timeOrigin + performance.now()
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}
