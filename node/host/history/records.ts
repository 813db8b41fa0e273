/**
 * What the durable history writes, as pure functions: the compact sample record of a
 * snapshot, the process starts and exits between two snapshots, and the per-minute and
 * per-process rollups a segment's index keeps. The store (store.ts) only moves lines.
 *
 * A sample line keeps the host figures and the union of the top HISTORY_TOP_N processes by
 * CPU and by memory as `[pid, cpu x10, rss KiB]`; names and users go into a dictionary line
 * (`p`) once per process per segment. The union holds both top lists exactly (ranking it by
 * CPU gives the top N by CPU), in ~400 bytes a sample instead of ~2 KB of objects.
 */
import { HISTORY_MAX_CMD_BYTES, type HistoryEvent } from '../../../protocols/messages.js'
import type { ProcessInfo, Snapshot } from '../../../protocols/types.js'

/**
 * Processes recorded per sample, by CPU and by memory each (their union, 10-20 a sample).
 * 10 is what a screen of `history --at` shows and what an incident asks ("what was eating
 * CPU"); at 2 s it keeps a day of samples at ~18 MB (bench/history.ts).
 */
export const HISTORY_TOP_N = 10

/** `[pid, cpu% x 10, rss in KiB]` */
export type SampleProc = [number, number, number]
/** host figures: `[cpu% x 10, memUsed, load1 x 100, procCount, memTotal]` */
export type SampleHost = [number, number, number, number, number]

export interface SampleLine { t: number, h: SampleHost, x: SampleProc[] }
/** a dictionary line: `[pid, startTime, name, user]` */
export interface DictLine { p: [number, number, string, string] }
export type SegmentLine = SampleLine | DictLine

/** A managed process's end, from the supervisor (the /proc diff cannot know it). */
export interface ManagedExit { managedId: string, exitCode: number | null, signal: string | null }

export function procKey (pid: number, startTime: number): string {
  return `${pid}:${startTime}`
}

function topBy (processes: readonly ProcessInfo[], n: number, key: (p: ProcessInfo) => number): ProcessInfo[] {
  // one pass keeping the n largest: 500 processes, n = 10, no full sort
  const best: ProcessInfo[] = []
  for (const p of processes) {
    const k = key(p)
    if (best.length === n && k <= key(best[n - 1])) continue
    let i = best.length
    while (i > 0 && key(best[i - 1]) < k) i--
    best.splice(i, 0, p)
    if (best.length > n) best.pop()
  }
  return best
}

/** The union of the top n by CPU and by memory, in that order, without duplicates. */
export function topUnion (processes: readonly ProcessInfo[], n = HISTORY_TOP_N): ProcessInfo[] {
  const out = topBy(processes, n, p => p.cpuPercent)
  const seen = new Set(out.map(p => p.pid))
  for (const p of topBy(processes, n, p => p.rss)) if (!seen.has(p.pid)) out.push(p)
  return out
}

export function sampleLine (snap: Snapshot, top: readonly ProcessInfo[]): SampleLine {
  const h = snap.host
  return {
    t: snap.collectedAt,
    h: [Math.round(h.cpuPercent * 10), h.memUsed, Math.round(h.load[0] * 100), snap.processes.length, h.memTotal],
    x: top.map(p => [p.pid, Math.round(p.cpuPercent * 10), Math.round(p.rss / 1024)])
  }
}

export function truncateUtf8 (text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text
  let cut = text.slice(0, maxBytes)
  while (Buffer.byteLength(cut) > maxBytes) cut = cut.slice(0, -1)
  return cut
}

function startEvent (p: ProcessInfo, at: number, managedId: string | undefined): HistoryEvent {
  return {
    at,
    kind: 'start',
    pid: p.pid,
    ppid: p.ppid,
    startTime: p.startTime,
    name: p.name,
    cmd: truncateUtf8(p.cmd, HISTORY_MAX_CMD_BYTES),
    user: p.user,
    ...(managedId !== undefined ? { managedId } : {})
  }
}

/**
 * Starts and exits between two snapshots, told apart by pid and start time (a reused pid is
 * an exit and a start). A start is dated by the process's own start time; an exit by the
 * snapshot that no longer has it (up to one interval late). `baselineAt`: with no previous
 * snapshot (the node just started), processes started after this time (the last recorded
 * sample) are starts; older ones are not events.
 */
export function diffEvents (
  prev: ReadonlyMap<string, ProcessInfo> | undefined,
  snap: Snapshot,
  opts: { baselineAt?: number, managedIds?: ReadonlyMap<string, string>, managedExits?: ReadonlyMap<string, ManagedExit> } = {}
): { events: HistoryEvent[], current: Map<string, ProcessInfo> } {
  const current = new Map<string, ProcessInfo>()
  const events: HistoryEvent[] = []
  for (const p of snap.processes) {
    const key = procKey(p.pid, p.startTime)
    current.set(key, p)
    const isNew = prev !== undefined ? !prev.has(key) : opts.baselineAt !== undefined && p.startTime > opts.baselineAt
    if (isNew) events.push(startEvent(p, p.startTime, opts.managedIds?.get(key)))
  }
  if (prev !== undefined) {
    for (const [key, p] of prev) {
      if (current.has(key)) continue
      const exit = opts.managedExits?.get(key)
      events.push({
        ...startEvent(p, snap.collectedAt, exit?.managedId ?? opts.managedIds?.get(key)),
        kind: 'exit',
        lifetimeMs: Math.max(0, snap.collectedAt - p.startTime),
        ...(exit !== undefined ? { exitCode: exit.exitCode, signal: exit.signal } : {})
      })
    }
  }
  events.sort((a, b) => a.at - b.at)
  return { events, current }
}

// ---- rollups kept in a segment's index ----

/** One minute of samples: `[minute start, samples, cpu sum x10, cpu max x10, mem sum, load1 sum x100, procCount sum]` */
export type MinuteRollup = [number, number, number, number, number, number, number]
/** One process over a segment: `[pid, startTime, name, user, samples in top, cpu sum x10, cpu max x10, rss max KiB]` */
export type ProcRollup = [number, number, string, string, number, number, number, number]

export const MINUTE_MS = 60_000
/** processes an index keeps: the busiest by CPU sum and by peak memory, this many of each */
export const INDEX_PROCS = 50

/** The index of one segment: its time span and rollups, enough to answer long ranges without reading it. */
export interface SegmentIndex {
  v: 1
  from: number
  to: number
  samples: number
  memTotal: number
  minutes: MinuteRollup[]
  procs: ProcRollup[]
}

/** Builds a segment's index as its lines go by (the writer and a rebuild after a crash alike). */
export class IndexBuilder {
  private from = Infinity
  private to = 0
  private samples = 0
  private memTotal = 0
  private readonly minutes: MinuteRollup[] = []
  private readonly dict = new Map<number, [number, string, string]>()
  private readonly procs = new Map<string, ProcRollup>()

  add (line: SegmentLine): void {
    if ('p' in line) { const [pid, st, name, user] = line.p; this.dict.set(pid, [st, name, user]); return }
    this.from = Math.min(this.from, line.t)
    this.to = Math.max(this.to, line.t)
    this.samples++
    this.memTotal = line.h[4]
    const minute = Math.floor(line.t / MINUTE_MS) * MINUTE_MS
    let m = this.minutes[this.minutes.length - 1]
    if (m === undefined || m[0] !== minute) { m = [minute, 0, 0, 0, 0, 0, 0]; this.minutes.push(m) }
    m[1]++; m[2] += line.h[0]; m[3] = Math.max(m[3], line.h[0]); m[4] += line.h[1]; m[5] += line.h[2]; m[6] += line.h[3]
    for (const [pid, cpu, rss] of line.x) {
      const d = this.dict.get(pid)
      if (d === undefined) continue
      const key = procKey(pid, d[0])
      let r = this.procs.get(key)
      if (r === undefined) { r = [pid, d[0], d[1], d[2], 0, 0, 0, 0]; this.procs.set(key, r) }
      r[4]++; r[5] += cpu; r[6] = Math.max(r[6], cpu); r[7] = Math.max(r[7], rss)
    }
  }

  get count (): number { return this.samples }

  build (): SegmentIndex {
    const all = [...this.procs.values()]
    const keep = new Set([...all.sort((a, b) => b[5] - a[5]).slice(0, INDEX_PROCS), ...all.sort((a, b) => b[7] - a[7]).slice(0, INDEX_PROCS)])
    return {
      v: 1,
      from: this.samples > 0 ? this.from : 0,
      to: this.to,
      samples: this.samples,
      memTotal: this.memTotal,
      minutes: this.minutes.map(m => [...m]),
      procs: [...keep].map(r => [...r])
    }
  }
}

function isNums (v: unknown, n: number): v is number[] {
  return Array.isArray(v) && v.length === n && v.every(x => typeof x === 'number' && Number.isFinite(x))
}

/** A line read back from disk, or undefined when it is not one (a torn or corrupted line). */
export function parseSegmentLine (text: string): SegmentLine | undefined {
  let v: unknown
  try { v = JSON.parse(text) } catch { return undefined }
  if (typeof v !== 'object' || v === null) return undefined
  const r = v as Record<string, unknown>
  if (Array.isArray(r.p)) {
    const [pid, st, name, user] = r.p as unknown[]
    if (typeof pid !== 'number' || typeof st !== 'number' || typeof name !== 'string' || typeof user !== 'string') return undefined
    return { p: [pid, st, name, user] }
  }
  if (typeof r.t !== 'number' || !isNums(r.h, 5) || !Array.isArray(r.x) || !r.x.every(x => isNums(x, 3))) return undefined
  return { t: r.t, h: r.h as SampleHost, x: r.x as SampleProc[] }
}

export function parseEventLine (text: string): HistoryEvent | undefined {
  let v: unknown
  try { v = JSON.parse(text) } catch { return undefined }
  if (typeof v !== 'object' || v === null) return undefined
  const e = v as Record<string, unknown>
  if (typeof e.at !== 'number' || (e.kind !== 'start' && e.kind !== 'exit') || typeof e.pid !== 'number' || typeof e.ppid !== 'number' ||
    typeof e.startTime !== 'number' || typeof e.name !== 'string' || typeof e.cmd !== 'string' || typeof e.user !== 'string') return undefined
  return v as HistoryEvent
}

export function parseIndex (text: string): SegmentIndex | undefined {
  let v: unknown
  try { v = JSON.parse(text) } catch { return undefined }
  if (typeof v !== 'object' || v === null) return undefined
  const r = v as Record<string, unknown>
  if (r.v !== 1 || typeof r.from !== 'number' || typeof r.to !== 'number' || typeof r.samples !== 'number' || typeof r.memTotal !== 'number' ||
    !Array.isArray(r.minutes) || !r.minutes.every(m => isNums(m, 7)) || !Array.isArray(r.procs)) return undefined
  return v as SegmentIndex
}
