/**
 * Checks of a summary beyond its shape (pure), called by validateSummary and
 * validateHost (issue 17 findings 5 and 18): text fields that are printed everywhere
 * carry no control characters, a name does not read as a peer id, and host figures
 * are consistent and within what a real host reports (memUsed 1e300 with memTotal 0,
 * load 1e308 are refused rather than shown).
 */
import { InvalidFieldError } from './errors.js'
import { expectNodeName, expectPlainText } from './text.js'
import type { HostInfo, Summary } from './types.js'

/** 1 EiB: far above any host's memory, far below the float range. */
export const MAX_HOST_MEMORY_BYTES = 2 ** 60
/** a load average no real scheduler reports (runnable tasks per CPU, summed) */
export const MAX_LOAD_AVERAGE = 1e6
/** 1,000 years of uptime, in seconds */
export const MAX_UPTIME_SECONDS = 1000 * 365 * 24 * 3600
/** processes one summary may count */
export const MAX_PROC_COUNT = 10_000_000

function atMost (value: number, max: number, path: string): void {
  if (value > max) throw new InvalidFieldError(path, `${value} is more than ${max}`)
}

/** Host text without control characters and figures that fit a real host. */
export function checkHost (h: HostInfo, path: string): HostInfo {
  expectPlainText(h.hostname, `${path}.hostname`)
  expectPlainText(h.platform, `${path}.platform`)
  expectPlainText(h.arch, `${path}.arch`)
  atMost(h.memTotal, MAX_HOST_MEMORY_BYTES, `${path}.memTotal`)
  if (h.memUsed > h.memTotal) throw new InvalidFieldError(`${path}.memUsed`, `${h.memUsed} is more than memTotal (${h.memTotal})`)
  h.load.forEach((l, i) => { atMost(l, MAX_LOAD_AVERAGE, `${path}.load[${i}]`) })
  atMost(h.uptime, MAX_UPTIME_SECONDS, `${path}.uptime`)
  return h
}

/** Name, tags and version printable as they are; the name not a peer id look-alike. */
export function checkSummary (s: Summary): Summary {
  expectNodeName(s.name, 'summary.name')
  for (const [k, v] of Object.entries(s.tags)) {
    expectPlainText(k, 'summary.tags key')
    expectPlainText(v, `summary.tags.${k}`)
  }
  expectPlainText(s.version, 'summary.version')
  atMost(s.procCount, MAX_PROC_COUNT, 'summary.procCount')
  return s
}
