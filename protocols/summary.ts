/** The gossiped summary: encoding, decoding and validation (pure). */
import { InvalidFieldError, ProcmeshError } from './errors.js'
import {
  MAX_ADDR_BYTES, MAX_INTERVAL_MS, MAX_NAME_BYTES, MAX_SUMMARY_ADDRS, MAX_SUMMARY_BYTES,
  MAX_TAG_BYTES, MAX_TAGS, MIN_INTERVAL_MS, SUMMARY_TOP_N
} from './limits.js'
import type { DiskUsage, HostAlert, HostInfo, HostIo, Summary, TopProcess } from './types.js'
import { checkHost, checkSummary, MAX_HOST_MEMORY_BYTES } from './summary-checks.js'
import { expectPlainText } from './text.js'
import { ALERT_LEVELS } from './thresholds.js'
import {
  expectArray, expectInt, expectNumber, expectOneOf, expectRecord, expectString, expectStringMap
} from './validate.js'

/** cores one summary may report (the largest machines today have a few hundred) */
const MAX_HOST_CORES = 1024
/** filesystems one summary may report (node/host/collector.ts sends at most MAX_HOST_DISKS) */
const MAX_HOST_DISKS = 16
const MAX_MOUNT_BYTES = 256
/** 1 TB/s: beyond any disk or NIC of today */
const MAX_IO_BYTES_PER_SECOND = 1e12
/** one per metric, one per disk */
const MAX_HOST_ALERTS = MAX_HOST_DISKS + 4
const HOST_ALERT_METRICS: ReadonlyArray<HostAlert['metric']> = ['cpu', 'mem', 'swap', 'load', 'disk']

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
    uptime: expectNumber(h.uptime, `${path}.uptime`, { min: 0 }),
    ...validateHostExtras(h, path)
  }, path)
}

/** The optional figures of a host (Linux nodes send them; others and older versions may not). */
function validateHostExtras (h: Record<string, unknown>, path: string): Partial<HostInfo> {
  const out: Partial<HostInfo> = {}
  const bytes = (key: 'memAvailable' | 'memCached' | 'swapTotal' | 'swapUsed' | 'openFiles' | 'sockets'): void => {
    if (h[key] !== undefined) out[key] = expectNumber(h[key], `${path}.${key}`, { min: 0, max: MAX_HOST_MEMORY_BYTES })
  }
  for (const key of ['memAvailable', 'memCached', 'swapTotal', 'swapUsed', 'openFiles', 'sockets'] as const) bytes(key)
  if (out.swapUsed !== undefined && out.swapTotal !== undefined && out.swapUsed > out.swapTotal) {
    throw new InvalidFieldError(`${path}.swapUsed`, `${out.swapUsed} is more than swapTotal (${out.swapTotal})`)
  }
  if (h.cores !== undefined) {
    out.cores = expectArray(h.cores, `${path}.cores`, MAX_HOST_CORES).map((c, i) => expectNumber(c, `${path}.cores[${i}]`, { min: 0, max: 100 }))
  }
  if (h.disks !== undefined) {
    out.disks = expectArray(h.disks, `${path}.disks`, MAX_HOST_DISKS).map((d, i): DiskUsage => {
      const r = expectRecord(d, `${path}.disks[${i}]`)
      const p = `${path}.disks[${i}]`
      const disk: DiskUsage = {
        mount: expectPlainText(expectString(r.mount, `${p}.mount`, { minLength: 1, maxBytes: MAX_MOUNT_BYTES }), `${p}.mount`),
        fstype: expectPlainText(expectString(r.fstype, `${p}.fstype`, { maxBytes: 32 }), `${p}.fstype`),
        total: expectNumber(r.total, `${p}.total`, { min: 0, max: MAX_HOST_MEMORY_BYTES * 1024 }),
        used: expectNumber(r.used, `${p}.used`, { min: 0, max: MAX_HOST_MEMORY_BYTES * 1024 }),
        avail: expectNumber(r.avail, `${p}.avail`, { min: 0, max: MAX_HOST_MEMORY_BYTES * 1024 })
      }
      if (disk.used > disk.total) throw new InvalidFieldError(`${p}.used`, `${disk.used} is more than total (${disk.total})`)
      return disk
    })
  }
  if (h.io !== undefined) {
    const r = expectRecord(h.io, `${path}.io`)
    const rate = (key: keyof HostIo): number => expectNumber(r[key], `${path}.io.${key}`, { min: 0, max: MAX_IO_BYTES_PER_SECOND })
    out.io = { diskRead: rate('diskRead'), diskWrite: rate('diskWrite'), netRx: rate('netRx'), netTx: rate('netTx') }
  }
  if (h.alerts !== undefined) {
    out.alerts = expectArray(h.alerts, `${path}.alerts`, MAX_HOST_ALERTS).map((a, i): HostAlert => {
      const r = expectRecord(a, `${path}.alerts[${i}]`)
      const p = `${path}.alerts[${i}]`
      return {
        metric: expectOneOf(r.metric, `${p}.metric`, HOST_ALERT_METRICS),
        ...(r.mount !== undefined ? { mount: expectPlainText(expectString(r.mount, `${p}.mount`, { maxBytes: MAX_MOUNT_BYTES }), `${p}.mount`) } : {}),
        level: expectOneOf(r.level, `${p}.level`, ALERT_LEVELS),
        value: expectNumber(r.value, `${p}.value`, { min: 0 })
      }
    })
  }
  return out
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
