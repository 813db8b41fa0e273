/**
 * Answers a history range from the store: the host series downsampled to the points asked
 * (per-minute rollups from the segments' indexes when a point spans a minute or more, raw
 * samples otherwise), the top processes over the range (index rollups for segments wholly
 * inside it, raw samples for the two at its edges) or at one time, and the events.
 */
import {
  HISTORY_DEFAULT_POINTS, HISTORY_DEFAULT_TOP, HISTORY_MAX_EVENTS,
  type HistoryEvent, type HistoryPoint, type HistoryProcess, type HistoryProcessPoint, type HistoryRequest, type HistoryResult
} from '../../../protocols/messages.js'
import { MINUTE_MS, procKey, type MinuteRollup } from './records.js'
import type { HistoryStore, SegmentInfo, StoredSample } from './store.js'

interface Bucket { n: number, cpu: number, cpuMax: number, mem: number, load: number, procs: number, firstAt: number }

function emptyBucket (at: number): Bucket {
  return { n: 0, cpu: 0, cpuMax: 0, mem: 0, load: 0, procs: 0, firstAt: at }
}

function matches (filter: string | undefined, ...fields: string[]): boolean {
  if (filter === undefined || filter === '') return true
  const f = filter.toLowerCase()
  return fields.some(x => x.toLowerCase().includes(f))
}

/** Segments whose span meets [from, to]; a segment ends where the next begins (or now, when open). */
function overlapping (segs: SegmentInfo[], from: number, to: number): SegmentInfo[] {
  return segs.filter(s => s.index.samples > 0 && s.index.to >= from && s.index.from <= to)
}

function roundPoint (b: Bucket, at: number): HistoryPoint {
  return {
    at,
    cpuPercent: Math.round(b.cpu / b.n) / 10,
    memUsed: Math.round(b.mem / b.n),
    load1: Math.round(b.load / b.n) / 100,
    procCount: Math.round(b.procs / b.n),
    cpuMax: b.cpuMax / 10
  }
}

/** Points of the series: one per bucket that has samples (a gap in recording stays a gap). */
function series (store: HistoryStore, segs: SegmentInfo[], from: number, to: number, bucketMs: number, useMinutes: boolean): { points: HistoryPoint[], samples: number } {
  const buckets = new Map<number, Bucket>()
  let samples = 0
  // the range is closed: a sample exactly at `to` belongs to the last bucket
  const lastBucket = useMinutes ? Math.max(0, Math.ceil((to - from) / bucketMs) - 1) : Infinity
  const add = (t: number, n: number, cpuSum: number, cpuMax: number, memSum: number, loadSum: number, procSum: number): void => {
    const k = Math.min(lastBucket, Math.floor((t - from) / bucketMs))
    let b = buckets.get(k)
    if (b === undefined) { b = emptyBucket(t); buckets.set(k, b) }
    b.n += n; b.cpu += cpuSum; b.cpuMax = Math.max(b.cpuMax, cpuMax); b.mem += memSum; b.load += loadSum; b.procs += procSum
    samples += n
  }
  for (const seg of segs) {
    if (useMinutes) {
      for (const m of seg.index.minutes as MinuteRollup[]) {
        if (m[0] + MINUTE_MS <= from || m[0] > to) continue
        add(Math.max(m[0], from), m[1], m[2], m[3], m[4], m[5], m[6])
      }
    } else {
      for (const s of store.readSamples(seg.base, from, to)) add(s.t, 1, s.h[0], s.h[0], s.h[1], s.h[2], s.h[3])
    }
  }
  const points = [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([k, b]) => roundPoint(b, useMinutes ? from + k * bucketMs : (b.n === 1 ? b.firstAt : from + k * bucketMs)))
  return { points, samples }
}

interface ProcAgg { pid: number, startTime: number, name: string, user: string, n: number, cpuSum: number, cpuMax: number, rssMax: number }

function addRaw (aggs: Map<string, ProcAgg>, samples: StoredSample[]): void {
  for (const s of samples) {
    for (const p of s.procs) {
      const key = procKey(p.pid, p.startTime)
      let a = aggs.get(key)
      if (a === undefined) { a = { pid: p.pid, startTime: p.startTime, name: p.name, user: p.user, n: 0, cpuSum: 0, cpuMax: 0, rssMax: 0 }; aggs.set(key, a) }
      a.n++; a.cpuSum += p.cpu10; a.cpuMax = Math.max(a.cpuMax, p.cpu10); a.rssMax = Math.max(a.rssMax, p.rssKiB)
    }
  }
}

/** The top processes over the range: the busiest by mean CPU, then any of the largest by memory not already in. */
function topOverRange (store: HistoryStore, segs: SegmentInfo[], from: number, to: number, samples: number, n: number, filter: string | undefined, wholeSegments: boolean): HistoryProcess[] {
  const aggs = new Map<string, ProcAgg>()
  for (const seg of segs) {
    // a long range (points of a minute or more) takes the segments at its edges whole: an hour
    // more or less at the ends of a day changes little, and reading them would cost most of the answer
    const inside = !seg.open && (wholeSegments || (seg.index.from >= from && seg.index.to <= to))
    if (!inside) { addRaw(aggs, store.readSamples(seg.base, from, to)); continue }
    for (const [pid, startTime, name, user, cnt, cpuSum, cpuMax, rssMax] of seg.index.procs) {
      const key = procKey(pid, startTime)
      let a = aggs.get(key)
      if (a === undefined) { a = { pid, startTime, name, user, n: 0, cpuSum: 0, cpuMax: 0, rssMax: 0 }; aggs.set(key, a) }
      a.n += cnt; a.cpuSum += cpuSum; a.cpuMax = Math.max(a.cpuMax, cpuMax); a.rssMax = Math.max(a.rssMax, rssMax)
    }
  }
  const all = [...aggs.values()].filter(a => matches(filter, a.name, a.user))
  const byCpu = [...all].sort((a, b) => b.cpuSum - a.cpuSum || a.pid - b.pid).slice(0, n)
  const chosen = new Set(byCpu)
  for (const a of [...all].sort((a, b) => b.rssMax - a.rssMax || a.pid - b.pid).slice(0, n)) chosen.add(a)
  return [...chosen].map(a => ({
    pid: a.pid,
    startTime: a.startTime,
    name: a.name,
    user: a.user,
    cpuPercent: Math.round(a.cpuSum / Math.max(1, samples)) / 10,
    rss: a.rssMax * 1024,
    cpuMax: a.cpuMax / 10,
    samples: a.n
  }))
}

/** The sample nearest `at` (within the range's segments), with its top processes. */
function atSample (store: HistoryStore, segs: SegmentInfo[], at: number, n: number, filter: string | undefined): HistoryResult['atSample'] {
  const near = segs.filter(s => s.index.samples > 0).sort((a, b) => Math.abs(mid(a) - at) - Math.abs(mid(b) - at)).slice(0, 2)
  let best: StoredSample | undefined
  for (const seg of near) {
    for (const s of store.readSamples(seg.base)) if (best === undefined || Math.abs(s.t - at) < Math.abs(best.t - at)) best = s
  }
  if (best === undefined) return undefined
  const procs = best.procs.filter(p => matches(filter, p.name, p.user))
  const byCpu = [...procs].sort((a, b) => b.cpu10 - a.cpu10 || a.pid - b.pid).slice(0, n)
  const chosen = new Set(byCpu)
  for (const p of [...procs].sort((a, b) => b.rssKiB - a.rssKiB || a.pid - b.pid).slice(0, n)) chosen.add(p)
  return { at: best.t, processes: [...chosen].map(p => ({ pid: p.pid, startTime: p.startTime, name: p.name, user: p.user, cpuPercent: p.cpu10 / 10, rss: p.rssKiB * 1024 })) }
}

/**
 * One process's series over the range, in buckets of `bucketMs`: mean CPU and highest RSS over
 * the samples it was in the top in (a bucket where it was not stays out: a gap, not a zero).
 * Raw samples only; the request's validator bounds the range (HISTORY_MAX_PROCESS_RANGE_MS).
 */
function processSeries (store: HistoryStore, segs: SegmentInfo[], from: number, to: number, bucketMs: number, pid: number, startTime: number): HistoryProcessPoint[] {
  const buckets = new Map<number, { n: number, cpu10: number, rssKiB: number, firstAt: number }>()
  for (const seg of segs) {
    for (const s of store.readSamples(seg.base, from, to)) {
      const p = s.procs.find(x => x.pid === pid && x.startTime === startTime)
      if (p === undefined) continue
      const k = Math.floor((s.t - from) / bucketMs)
      const b = buckets.get(k) ?? { n: 0, cpu10: 0, rssKiB: 0, firstAt: s.t }
      b.n++; b.cpu10 += p.cpu10; b.rssKiB = Math.max(b.rssKiB, p.rssKiB)
      buckets.set(k, b)
    }
  }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([k, b]) => ({
    at: b.n === 1 ? b.firstAt : from + k * bucketMs,
    cpuPercent: Math.round(b.cpu10 / b.n) / 10,
    rss: b.rssKiB * 1024
  }))
}

function mid (s: SegmentInfo): number {
  return (s.index.from + s.index.to) / 2
}

/** Answer a range request (`req.from` and `req.to` set) from the store. */
export function answerRange (store: HistoryStore, req: HistoryRequest, intervalMs: number): HistoryResult {
  const from = req.from ?? 0
  const to = req.to ?? 0
  const wanted = req.points ?? HISTORY_DEFAULT_POINTS
  const bucketMs = Math.max(intervalMs, Math.ceil((to - from) / wanted))
  // raw samples only for short ranges: a day and a half at 2,000 points would otherwise
  // parse ~35 MB of lines while the node's event loop waits
  const useMinutes = bucketMs >= MINUTE_MS || to - from > RAW_MAX_RANGE_MS
  // minute rollups: a bucket must hold whole minutes, or points would be uneven
  const effectiveBucket = useMinutes ? Math.ceil(bucketMs / MINUTE_MS) * MINUTE_MS : bucketMs
  const all = store.segments()
  const segs = overlapping(all, from, to)
  const { points, samples } = series(store, segs, from, to, effectiveBucket, useMinutes)
  const n = req.top ?? HISTORY_DEFAULT_TOP
  const usage = store.usage()
  const result: HistoryResult = {
    intervalMs,
    memTotal: store.memTotal,
    points,
    range: { from, to, bucketMs: effectiveBucket, samples, oldest: usage.oldest }
  }
  if (n > 0) {
    if (req.at !== undefined) {
      const around = overlapping(all, req.at - SEGMENT_SLACK_MS, req.at + SEGMENT_SLACK_MS)
      const a = atSample(store, around.length > 0 ? around : all, req.at, n, req.filter)
      if (a !== undefined) result.atSample = a
    } else {
      result.top = topOverRange(store, segs, from, to, samples, n, req.filter, useMinutes)
    }
  }
  if (req.pid !== undefined && req.startTime !== undefined) {
    result.process = { pid: req.pid, startTime: req.startTime, points: processSeries(store, segs, from, to, bucketMs, req.pid, req.startTime) }
  }
  if (req.events === true) {
    // a start is dated by the process's start time, which may precede the segment it was
    // written to (found after a restart): look one segment further
    const withEvents = all.filter(s => s.base <= to && (s.open || s.index.to >= from || s.index.samples === 0))
    const next = all.find(s => s.base > to)
    if (next !== undefined) withEvents.push(next)
    let events: HistoryEvent[] = []
    // newest first, stopping once more than an answer holds are found: the latest are kept
    for (let i = withEvents.length - 1; i >= 0 && events.length <= HISTORY_MAX_EVENTS; i--) {
      events.push(...store.readEvents(withEvents[i].base, from, to).filter(e => matches(req.filter, e.name, e.cmd, e.user)))
    }
    events.sort((a, b) => a.at - b.at || a.pid - b.pid)
    result.eventsTruncated = events.length > HISTORY_MAX_EVENTS
    if (result.eventsTruncated) events = events.slice(-HISTORY_MAX_EVENTS)
    result.events = events
  }
  return result
}

/** Ranges longer than this are answered from per-minute rollups whatever the points asked (at most ~5 segments read raw). */
export const RAW_MAX_RANGE_MS = 4 * 60 * 60 * 1000

/** `at` looks at segments this close to it (a sample is at most an interval away from a kept one). */
const SEGMENT_SLACK_MS = 10 * 60 * 1000
