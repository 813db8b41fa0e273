/**
 * When a host or a process needs attention (pure): Glances' careful / warning / critical levels.
 * Each node judges itself with its own limits (`procmesh node --alert METRIC=C,W,X`) and says
 * so in its summary and its list answers, so every viewer shows the same marks.
 */
import { InvalidFieldError } from './errors.js'
import type { AlertLevel, HostAlert, HostInfo, ProcessInfo } from './types.js'

export const ALERT_LEVELS: readonly AlertLevel[] = ['careful', 'warning', 'critical']

export const ALERT_METRICS = ['cpu', 'mem', 'swap', 'load', 'disk', 'proc-cpu', 'proc-mem'] as const
export type AlertMetric = typeof ALERT_METRICS[number]

/** careful, warning, critical: the value at which each level starts */
export type Limits = readonly [number, number, number]
export type Thresholds = Readonly<Record<AlertMetric, Limits>>

/**
 * Glances' defaults (glances.conf): CPU, memory, swap and filesystems at 50 / 70 / 90 %, load at
 * 0.7 / 1 / 5 per core. Processes: 50 / 70 / 90 % of one core for CPU, and for memory 50 / 70 /
 * 90 % of the host's, as Glances' process list marks them.
 */
export const DEFAULT_THRESHOLDS: Thresholds = {
  cpu: [50, 70, 90],
  mem: [50, 70, 90],
  swap: [50, 70, 90],
  load: [0.7, 1, 5],
  disk: [50, 70, 90],
  'proc-cpu': [50, 70, 90],
  'proc-mem': [50, 70, 90]
}

/** The level `value` reaches under `limits`, or undefined below careful. */
export function levelOf (value: number, limits: Limits): AlertLevel | undefined {
  if (!Number.isFinite(value)) return undefined
  if (value >= limits[2]) return 'critical'
  if (value >= limits[1]) return 'warning'
  if (value >= limits[0]) return 'careful'
  return undefined
}

function percent (part: number, whole: number): number {
  return whole > 0 ? (part / whole) * 100 : 0
}

const round1 = (n: number): number => Math.round(n * 10) / 10

/** The host's figures over its limits, most severe first. */
export function hostAlerts (host: HostInfo, t: Thresholds = DEFAULT_THRESHOLDS): HostAlert[] {
  const out: HostAlert[] = []
  const add = (metric: HostAlert['metric'], value: number, limits: Limits, mount?: string): void => {
    const level = levelOf(value, limits)
    if (level !== undefined) out.push({ metric, ...(mount !== undefined ? { mount } : {}), level, value: round1(value) })
  }
  add('cpu', host.cpuPercent, t.cpu)
  add('mem', percent(host.memUsed, host.memTotal), t.mem)
  if (host.swapTotal !== undefined && host.swapUsed !== undefined && host.swapTotal > 0) add('swap', percent(host.swapUsed, host.swapTotal), t.swap)
  if (host.cpus > 0) add('load', host.load[0] / host.cpus, t.load)
  // df's Use%: used over what a user could ever have (used + avail), reserved blocks left out
  for (const d of host.disks ?? []) add('disk', percent(d.used, d.used + d.avail), t.disk, d.mount)
  return out.sort((a, b) => ALERT_LEVELS.indexOf(b.level) - ALERT_LEVELS.indexOf(a.level))
}

/** The level of one process: the worse of its CPU (percent of one core) and its share of the host's memory. */
export function processAlert (p: Pick<ProcessInfo, 'cpuPercent' | 'rss'>, memTotal: number, t: Thresholds = DEFAULT_THRESHOLDS): AlertLevel | undefined {
  const cpu = levelOf(p.cpuPercent, t['proc-cpu'])
  const mem = levelOf(percent(p.rss, memTotal), t['proc-mem'])
  if (cpu === undefined) return mem
  if (mem === undefined) return cpu
  return ALERT_LEVELS.indexOf(cpu) >= ALERT_LEVELS.indexOf(mem) ? cpu : mem
}

/**
 * `--alert METRIC=CAREFUL,WARNING,CRITICAL` (repeatable) over the defaults. Throws
 * InvalidFieldError naming the problem: an unknown metric, not three numbers, not increasing.
 */
export function parseThresholds (items: readonly string[], base: Thresholds = DEFAULT_THRESHOLDS): Thresholds {
  const out: Record<AlertMetric, Limits> = { ...base }
  for (const item of items) {
    const eq = item.indexOf('=')
    const metric = eq < 0 ? item : item.slice(0, eq)
    if (!(ALERT_METRICS as readonly string[]).includes(metric)) {
      throw new InvalidFieldError('--alert', `unknown metric ${JSON.stringify(metric)} (one of ${ALERT_METRICS.join(', ')})`)
    }
    const nums = eq < 0 ? [] : item.slice(eq + 1).split(',').map(s => Number(s.trim()))
    if (nums.length !== 3 || nums.some(n => !Number.isFinite(n) || n < 0)) {
      throw new InvalidFieldError('--alert', `${metric}: expected three numbers CAREFUL,WARNING,CRITICAL, got ${JSON.stringify(item.slice(eq + 1))}`)
    }
    if (!(nums[0] <= nums[1] && nums[1] <= nums[2])) throw new InvalidFieldError('--alert', `${metric}: the limits must not decrease (${nums.join(', ')})`)
    out[metric as AlertMetric] = [nums[0], nums[1], nums[2]]
  }
  return out
}
