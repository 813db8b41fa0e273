/**
 * Bars and sparklines (pure): a percentage or a CPU trail in a few cells.
 */
import { TRAIL_WINDOW_MS, type CpuPoint } from '../model.js'
import type { Glyphs } from './glyphs.js'
import { textWidth } from './text.js'

/** A bar `width` cells wide filled to `percent` (0..100), in eighths where the glyphs allow. */
export function bar (percent: number, width: number, g: Glyphs): string {
  if (width <= 0) return ''
  const p = Number.isFinite(percent) ? Math.max(0, Math.min(100, percent)) : 0
  const eighths = Math.round(p / 100 * width * 8)
  const full = Math.floor(eighths / 8)
  const part = g.barPartial[eighths % 8] ?? ''
  const text = g.barFull.repeat(full) + part
  return text + ' '.repeat(Math.max(0, width - textWidth(text)))
}

/**
 * CPU over the last `windowMs` in `width` time buckets (mean per bucket), oldest left.
 * A bucket without samples stays blank; any sample, even 0%, shows at least the lowest level.
 */
export function sparkline (trail: readonly CpuPoint[], now: number, width: number, g: Glyphs, windowMs = TRAIL_WINDOW_MS): string {
  if (width <= 0) return ''
  const bucketMs = windowMs / width
  const start = now - windowMs
  const sums = new Array<number>(width).fill(0)
  const counts = new Array<number>(width).fill(0)
  for (const p of trail) {
    const i = Math.floor((p.at - start) / bucketMs)
    if (i < 0 || i >= width) continue
    sums[i] += p.cpu
    counts[i]++
  }
  const top = g.spark.length - 1
  return sums.map((sum, i) => {
    if (counts[i] === 0) return g.spark[0]
    const v = Math.max(0, Math.min(100, sum / counts[i]))
    return g.spark[1 + Math.round(v / 100 * (top - 1))]
  }).join('')
}

export function cpuColor (percent: number): string {
  return percent >= 80 ? 'red' : percent >= 50 ? 'yellow' : 'green'
}

/** A sparkline of any series, each value as a share of `top` (a process's RSS, CPU beyond one core). */
export function scaledSparkline (points: ReadonlyArray<{ at: number, value: number }>, now: number, width: number, g: Glyphs, windowMs: number, top: number): string {
  const scale = top > 0 ? 100 / top : 0
  return sparkline(points.map(p => ({ at: p.at, cpu: p.value * scale })), now, width, g, windowMs)
}
