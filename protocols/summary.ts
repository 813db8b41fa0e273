/** The gossiped summary: encoding, decoding and validation (pure). */
import { InvalidFieldError, ProcmeshError } from './errors.js'
import {
  MAX_ADDR_BYTES, MAX_INTERVAL_MS, MAX_NAME_BYTES, MAX_SUMMARY_ADDRS, MAX_SUMMARY_BYTES,
  MAX_TAG_BYTES, MAX_TAGS, MIN_INTERVAL_MS, SUMMARY_TOP_N
} from './limits.js'
import type { HostInfo, Summary, TopProcess } from './types.js'
import { checkHost, checkSummary } from './summary-checks.js'
import {
  expectArray, expectInt, expectNumber, expectRecord, expectString, expectStringMap
} from './validate.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeSummary (summary: Summary): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(summary))
  if (bytes.byteLength > MAX_SUMMARY_BYTES) {
    throw new ProcmeshError('INVALID_REQUEST', `summary is ${bytes.byteLength} bytes, over the ${MAX_SUMMARY_BYTES}-byte cap`)
  }
  return bytes
}

/** Decode and validate a summary from the wire. Throws InvalidFieldError naming the problem. */
export function decodeSummary (bytes: Uint8Array): Summary {
  if (bytes.byteLength > MAX_SUMMARY_BYTES) {
    throw new InvalidFieldError('summary', `${bytes.byteLength} bytes, over the ${MAX_SUMMARY_BYTES}-byte cap`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(bytes))
  } catch {
    throw new InvalidFieldError('summary', 'not valid UTF-8 JSON')
  }
  return validateSummary(parsed)
}

export function validateHost (value: unknown, path: string): HostInfo {
  const h = expectRecord(value, path)
  const load = expectArray(h.load, `${path}.load`, 3)
  if (load.length !== 3) throw new InvalidFieldError(`${path}.load`, 'expected 3 numbers')
  return checkHost({
    hostname: expectString(h.hostname, `${path}.hostname`, { maxBytes: MAX_NAME_BYTES * 2 }),
    platform: expectString(h.platform, `${path}.platform`, { maxBytes: 32 }),
    arch: expectString(h.arch, `${path}.arch`, { maxBytes: 32 }),
    cpus: expectInt(h.cpus, `${path}.cpus`, { min: 0, max: 65536 }),
    cpuPercent: expectNumber(h.cpuPercent, `${path}.cpuPercent`, { min: 0, max: 100 }),
    load: [
      expectNumber(load[0], `${path}.load[0]`, { min: 0 }),
      expectNumber(load[1], `${path}.load[1]`, { min: 0 }),
      expectNumber(load[2], `${path}.load[2]`, { min: 0 })
    ],
    memTotal: expectNumber(h.memTotal, `${path}.memTotal`, { min: 0 }),
    memUsed: expectNumber(h.memUsed, `${path}.memUsed`, { min: 0 }),
    uptime: expectNumber(h.uptime, `${path}.uptime`, { min: 0 })
  }, path)
}

export function validateTop (value: unknown, path: string): TopProcess[] {
  return expectArray(value, path, SUMMARY_TOP_N).map((item, i) => {
    const p = expectRecord(item, `${path}[${i}]`)
    return {
      pid: expectInt(p.pid, `${path}[${i}].pid`, { min: 0 }),
      name: expectString(p.name, `${path}[${i}].name`, { maxBytes: 64 }),
      cpuPercent: expectNumber(p.cpuPercent, `${path}[${i}].cpuPercent`, { min: 0 }),
      rss: expectNumber(p.rss, `${path}[${i}].rss`, { min: 0 })
    }
  })
}

export function validateSummary (value: unknown): Summary {
  const s = expectRecord(value, 'summary')
  if (s.v !== 1) throw new InvalidFieldError('summary.v', `unsupported version ${String(s.v)}`)
  return checkSummary({
    v: 1,
    peerId: expectString(s.peerId, 'summary.peerId', { minLength: 1, maxBytes: 128 }),
    name: expectString(s.name, 'summary.name', { minLength: 1, maxBytes: MAX_NAME_BYTES, noNul: true }),
    tags: expectStringMap(s.tags, 'summary.tags', MAX_TAGS, MAX_TAG_BYTES),
    seq: expectInt(s.seq, 'summary.seq', { min: 0 }),
    at: expectInt(s.at, 'summary.at', { min: 0 }),
    intervalMs: expectInt(s.intervalMs, 'summary.intervalMs', { min: MIN_INTERVAL_MS, max: MAX_INTERVAL_MS }),
    host: validateHost(s.host, 'summary.host'),
    procCount: expectInt(s.procCount, 'summary.procCount', { min: 0 }),
    topCpu: validateTop(s.topCpu, 'summary.topCpu'),
    topMem: validateTop(s.topMem, 'summary.topMem'),
    addrs: expectArray(s.addrs, 'summary.addrs', MAX_SUMMARY_ADDRS).map((a, i) => expectString(a, `summary.addrs[${i}]`, { maxBytes: MAX_ADDR_BYTES })),
    version: expectString(s.version, 'summary.version', { maxBytes: 32 })
  })
}

/**
 * Decide whether a summary received from `author` may enter the view.
 * Returns a reason string when it must be rejected, undefined when accepted.
 */
export function checkSummaryOrigin (summary: Summary, author: string, lastSeq: number | undefined): string | undefined {
  if (summary.peerId !== author) return `summary describes ${summary.peerId} but was authored by ${author}`
  if (lastSeq !== undefined && summary.seq <= lastSeq) return `sequence ${summary.seq} is not newer than ${lastSeq}`
  return undefined
}
