/**
 * The durable history on disk: append-only segments in `HOME/history/`, one per hour (or
 * per `segmentBytes`), each three files named by the time the segment began:
 *
 *   1767000000000.s.jsonl   samples and the process dictionary (records.ts), one JSON line each
 *   1767000000000.e.jsonl   process starts and exits, one JSON line each
 *   1767000000000.i.json    the index: time span, per-minute host rollups, per-process rollups
 *
 * Lines are written with one write(2) each on an fd opened for append, so a node killed with
 * -9 loses nothing it wrote (the page cache outlives the process; a power cut is another
 * matter: nothing here fsyncs, by design, at one write every 2 s). A segment's index is
 * written when it closes; a segment a crash left without one is indexed again on the next
 * start, skipping lines that do not parse (a torn last line) with one warning per file.
 * A starting node always opens a new segment, so it never appends after a torn line.
 * Retention drops whole segments, oldest first: older than `retentionMs`, then while the
 * files together exceed `maxBytes`.
 */
import {
  closeSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync, writeSync
} from 'node:fs'
import { join } from 'node:path'
import { errnoCode, errorMessage } from '../../../protocols/errors.js'
import type { HistoryEvent } from '../../../protocols/messages.js'
import type { ProcessInfo, Snapshot } from '../../../protocols/types.js'
import type { Logger } from '../../logger.js'
import {
  IndexBuilder, parseEventLine, parseIndex, parseSegmentLine, sampleLine, type SampleHost, type SegmentIndex, type SegmentLine
} from './records.js'

/** Default retention (`procmesh node --history`). */
export const DEFAULT_HISTORY_RETENTION_MS = 7 * 24 * 60 * 60 * 1000
/**
 * Default size cap: a week at 2 s and 500 processes is ~130 MB (bench/history.ts); 256 MiB
 * leaves room for hosts with many short-lived processes (events) before time retention bites.
 */
export const DEFAULT_HISTORY_MAX_BYTES = 256 * 1024 * 1024
/** A segment spans at most an hour: long ranges skip whole segments by their index. */
export const SEGMENT_MS = 60 * 60 * 1000
/** ... and at most this many bytes (or an eighth of the cap, when the cap is small). */
export const SEGMENT_BYTES = 8 * 1024 * 1024

export interface HistoryStoreOptions {
  dir: string
  retentionMs?: number
  maxBytes?: number
  segmentMs?: number
  segmentBytes?: number
  log: Logger
  now?: () => number
}

/** A decoded sample: host figures and its top processes with names. */
export interface StoredSample {
  t: number
  h: SampleHost
  procs: Array<{ pid: number, startTime: number, name: string, user: string, cpu10: number, rssKiB: number }>
}

export interface SegmentInfo {
  base: number
  index: SegmentIndex
  bytes: number
  open: boolean
}

interface ClosedSegment { base: number, index: SegmentIndex, bytes: number }

interface OpenSegment {
  base: number
  samplesFd: number
  eventsFd: number
  bytes: number
  builder: IndexBuilder
  /** pid -> start time written to this segment's dictionary */
  dict: Map<number, number>
}

const SAMPLES = '.s.jsonl'
const EVENTS = '.e.jsonl'
const INDEX = '.i.json'

function fileSize (path: string): number {
  try { return statSync(path).size } catch { return 0 }
}

export class HistoryStore {
  readonly dir: string
  readonly retentionMs: number
  readonly maxBytes: number
  private readonly segmentMs: number
  private readonly segmentBytes: number
  private readonly log: Logger
  private readonly now: () => number
  private closed: ClosedSegment[] = []
  private current?: OpenSegment
  private lastBase = 0
  private warned = new Set<string>()
  /** time of the newest sample on disk (before this run: what a restart compares against) */
  lastSampleAt = 0
  memTotal = 0

  constructor (opts: HistoryStoreOptions) {
    this.dir = opts.dir
    this.retentionMs = opts.retentionMs ?? DEFAULT_HISTORY_RETENTION_MS
    this.maxBytes = opts.maxBytes ?? DEFAULT_HISTORY_MAX_BYTES
    this.segmentMs = opts.segmentMs ?? SEGMENT_MS
    this.segmentBytes = opts.segmentBytes ?? Math.max(64 * 1024, Math.min(SEGMENT_BYTES, Math.floor(this.maxBytes / 8)))
    this.log = opts.log
    this.now = opts.now ?? Date.now
  }

  /** Load the segments on disk (indexing any a crash left unindexed) and drop what is past retention. */
  open (): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    const bases = new Set<number>()
    for (const name of readdirSync(this.dir)) {
      const m = /^(\d+)\.(s\.jsonl|e\.jsonl|i\.json)$/.exec(name)
      if (m !== null) bases.add(Number(m[1]))
    }
    const segments: ClosedSegment[] = []
    for (const base of [...bases].sort((a, b) => a - b)) {
      let index: SegmentIndex | undefined
      const indexPath = this.path(base, INDEX)
      try { index = parseIndex(readFileSync(indexPath, 'utf8')) } catch { index = undefined }
      if (index === undefined) {
        index = this.rebuildIndex(base)
        try { writeFileSync(indexPath, JSON.stringify(index), { mode: 0o600 }) } catch (err: unknown) { this.log.warn('history: cannot write %s: %s', indexPath, errorMessage(err)) }
      }
      segments.push({ base, index, bytes: fileSize(this.path(base, SAMPLES)) + fileSize(this.path(base, EVENTS)) + fileSize(indexPath) })
      this.lastBase = base
    }
    this.closed = segments
    for (const s of segments) if (s.index.samples > 0) { this.lastSampleAt = Math.max(this.lastSampleAt, s.index.to); this.memTotal = s.index.memTotal }
    this.prune()
  }

  /** Write the current segment's index and close its files. */
  close (): void {
    this.closeCurrent()
  }

  appendSample (snap: Snapshot, top: readonly ProcessInfo[]): void {
    const seg = this.segmentFor(snap.collectedAt)
    const lines: SegmentLine[] = []
    for (const p of top) {
      if (seg.dict.get(p.pid) === p.startTime) continue
      seg.dict.set(p.pid, p.startTime)
      lines.push({ p: [p.pid, p.startTime, p.name, p.user] })
    }
    lines.push(sampleLine(snap, top))
    let text = ''
    for (const line of lines) { text += JSON.stringify(line) + '\n'; seg.builder.add(line) }
    seg.bytes += writeSync(seg.samplesFd, text)
    this.lastSampleAt = snap.collectedAt
    this.memTotal = snap.host.memTotal
    this.afterWrite()
  }

  appendEvents (events: readonly HistoryEvent[]): void {
    if (events.length === 0) return
    const seg = this.segmentFor(this.now())
    seg.bytes += writeSync(seg.eventsFd, events.map(e => JSON.stringify(e)).join('\n') + '\n')
    this.afterWrite()
  }

  /** Segments oldest first, the open one last with its index so far. */
  segments (): SegmentInfo[] {
    const out: SegmentInfo[] = this.closed.map(s => ({ ...s, open: false }))
    if (this.current !== undefined) out.push({ base: this.current.base, index: this.current.builder.build(), bytes: this.current.bytes, open: true })
    return out
  }

  /** Bytes on disk and the oldest sample kept. */
  usage (): { bytes: number, oldest: number | null, segments: number } {
    const segs = this.segments()
    const withSamples = segs.filter(s => s.index.samples > 0)
    return { bytes: segs.reduce((n, s) => n + s.bytes, 0), oldest: withSamples.length > 0 ? withSamples[0].index.from : null, segments: segs.length }
  }

  /** The samples of one segment in [from, to], names resolved through its dictionary. */
  readSamples (base: number, from = 0, to = Infinity): StoredSample[] {
    const dict = new Map<number, [number, string, string]>()
    const out: StoredSample[] = []
    this.eachLine(base, SAMPLES, text => {
      const line = parseSegmentLine(text)
      if (line === undefined) return false
      if ('p' in line) { dict.set(line.p[0], [line.p[1], line.p[2], line.p[3]]); return true }
      if (line.t < from || line.t > to) return true
      out.push({
        t: line.t,
        h: line.h,
        procs: line.x.map(([pid, cpu10, rssKiB]) => {
          const d = dict.get(pid)
          return { pid, startTime: d?.[0] ?? 0, name: d?.[1] ?? '?', user: d?.[2] ?? '?', cpu10, rssKiB }
        })
      })
      return true
    })
    return out
  }

  /** The events of one segment in [from, to]. */
  readEvents (base: number, from = 0, to = Infinity): HistoryEvent[] {
    const out: HistoryEvent[] = []
    this.eachLine(base, EVENTS, text => {
      const e = parseEventLine(text)
      if (e === undefined) return false
      if (e.at >= from && e.at <= to) out.push(e)
      return true
    })
    return out
  }

  private path (base: number, suffix: string): string {
    return join(this.dir, `${base}${suffix}`)
  }

  /** Call `each` per line; lines it refuses are counted and warned about once per file. */
  private eachLine (base: number, suffix: string, each: (text: string) => boolean): void {
    let text: string
    try { text = readFileSync(this.path(base, suffix), 'utf8') } catch { return }
    let bad = 0
    let start = 0
    while (start < text.length) {
      let end = text.indexOf('\n', start)
      if (end === -1) end = text.length
      if (end > start && !each(text.slice(start, end))) bad++
      start = end + 1
    }
    const file = `${base}${suffix}`
    if (bad > 0 && !this.warned.has(file)) {
      this.warned.add(file)
      this.log.warn('history: skipped %d unreadable line(s) in %s (a torn write or a corrupted file)', bad, join(this.dir, file))
    }
  }

  private rebuildIndex (base: number): SegmentIndex {
    const builder = new IndexBuilder()
    this.eachLine(base, SAMPLES, text => {
      const line = parseSegmentLine(text)
      if (line === undefined) return false
      builder.add(line)
      return true
    })
    return builder.build()
  }

  private segmentFor (t: number): OpenSegment {
    const cur = this.current
    if (cur !== undefined && t - cur.base < this.segmentMs && t >= cur.base - this.segmentMs && cur.bytes < this.segmentBytes) return cur
    this.closeCurrent()
    const base = Math.max(t, this.lastBase + 1)
    this.lastBase = base
    const seg: OpenSegment = {
      base,
      samplesFd: openSync(this.path(base, SAMPLES), 'a', 0o600),
      eventsFd: openSync(this.path(base, EVENTS), 'a', 0o600),
      bytes: 0,
      builder: new IndexBuilder(),
      dict: new Map()
    }
    this.current = seg
    this.prune()
    return seg
  }

  private closeCurrent (): void {
    const cur = this.current
    if (cur === undefined) return
    this.current = undefined
    closeSync(cur.samplesFd)
    closeSync(cur.eventsFd)
    const index = cur.builder.build()
    const indexPath = this.path(cur.base, INDEX)
    try {
      writeFileSync(indexPath, JSON.stringify(index), { mode: 0o600 })
    } catch (err: unknown) {
      this.log.warn('history: cannot write %s: %s', indexPath, errorMessage(err))
    }
    this.closed.push({ base: cur.base, index, bytes: cur.bytes + fileSize(indexPath) })
  }

  private afterWrite (): void {
    const total = this.closed.reduce((n, s) => n + s.bytes, 0) + (this.current?.bytes ?? 0)
    if (total > this.maxBytes) this.prune()
  }

  /** Drop closed segments past retention, then the oldest while over the size cap. */
  private prune (): void {
    const cutoff = this.now() - this.retentionMs
    const openBytes = this.current?.bytes ?? 0
    let total = this.closed.reduce((n, s) => n + s.bytes, 0) + openBytes
    while (this.closed.length > 0) {
      const oldest = this.closed[0]
      const expired = oldest.index.to < cutoff && (oldest.index.samples > 0 || oldest.base < cutoff)
      if (!expired && total <= this.maxBytes) break
      this.closed.shift()
      total -= oldest.bytes
      for (const suffix of [SAMPLES, EVENTS, INDEX]) {
        try { unlinkSync(this.path(oldest.base, suffix)) } catch (err: unknown) {
          if (errnoCode(err) !== 'ENOENT') this.log.warn('history: cannot remove %s: %s', this.path(oldest.base, suffix), errorMessage(err))
        }
      }
    }
  }
}

/** Size and oldest record of a history directory, read without opening the store (doctor). */
export function historyUsageOnDisk (dir: string): { bytes: number, segments: number, oldest: number | null } {
  let names: string[]
  try { names = readdirSync(dir) } catch { return { bytes: 0, segments: 0, oldest: null } }
  let bytes = 0
  const bases = new Set<number>()
  for (const name of names) {
    const m = /^(\d+)\.(s\.jsonl|e\.jsonl|i\.json)$/.exec(name)
    if (m === null) continue
    bases.add(Number(m[1]))
    bytes += fileSize(join(dir, name))
  }
  const sorted = [...bases].sort((a, b) => a - b)
  let oldest: number | null = null
  if (sorted.length > 0) {
    let index: SegmentIndex | undefined
    try { index = parseIndex(readFileSync(join(dir, `${sorted[0]}${INDEX}`), 'utf8')) } catch { index = undefined }
    oldest = index !== undefined && index.samples > 0 ? index.from : sorted[0]
  }
  return { bytes, segments: sorted.length, oldest }
}
