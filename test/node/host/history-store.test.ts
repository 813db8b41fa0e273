import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HistoryStore, historyUsageOnDisk } from '../../../node/host/history/store.js'
import { checkHistory } from '../../../node/setup/doctor.js'
import { HistoryRecorder } from '../../../node/host/history/recorder.js'
import { diffEvents, topUnion, procKey } from '../../../node/host/history/records.js'
import { HISTORY, validateHistoryRequest } from '../../../protocols/messages.js'
import { CONTROL_API } from '../../../protocols/control-api.js'
import type { Logger } from '../../../node/logger.js'
import type { ProcessInfo, Snapshot } from '../../../protocols/types.js'

const T0 = Date.UTC(2026, 10, 1, 3, 0, 0)
const INTERVAL = 2000

function proc (pid: number, cpuPercent: number, rss: number, startTime = T0 - 3_600_000, name = `p${pid}`): ProcessInfo {
  return { pid, ppid: 1, uid: 0, user: 'root', name, cmd: `/usr/bin/${name} --flag`, state: 'S', cpuPercent, rss, startTime }
}

function snap (at: number, processes: ProcessInfo[], cpu = 10): Snapshot {
  return {
    collectedAt: at,
    host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 2, cpuPercent: cpu, load: [0.5, 0, 0], memTotal: 8e9, memUsed: 2e9, uptime: 1 },
    processes
  }
}

/** 40 ordinary processes; pid 1000 busy */
function table (extra: ProcessInfo[] = []): ProcessInfo[] {
  const ps: ProcessInfo[] = []
  for (let i = 0; i < 40; i++) ps.push(proc(100 + i, i % 7, (i + 1) * 1e6))
  return [...ps, proc(1000, 95, 5e6, T0 - 10_000, 'busy'), ...extra]
}

function capture (): { log: Logger, warnings: string[] } {
  const warnings: string[] = []
  const log: Logger = { debug () {}, info () {}, warn (fmt: string, ...args: unknown[]) { warnings.push([fmt, ...args].join(' ')) }, error () {} }
  return { log, warnings }
}

let dir: string
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'procmesh-history-')) })
afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

function recorder (now: { t: number }, opts: { log?: Logger, retentionMs?: number, maxBytes?: number, segmentMs?: number } = {}): HistoryRecorder {
  const log = opts.log ?? capture().log
  const store = new HistoryStore({ dir, log, now: () => now.t, retentionMs: opts.retentionMs, maxBytes: opts.maxBytes, segmentMs: opts.segmentMs })
  return new HistoryRecorder({ store, intervalMs: INTERVAL, log })
}

function recordSpan (r: HistoryRecorder, now: { t: number }, from: number, to: number, processes: () => ProcessInfo[] = table): void {
  for (let t = from; t <= to; t += INTERVAL) { now.t = t; r.record(snap(t, processes())) }
}

describe('history records (pure)', () => {
  it('topUnion holds the top N by CPU and by memory without duplicates', () => {
    const ps = [proc(1, 50, 1), proc(2, 40, 900), proc(3, 0, 1000), proc(4, 30, 2)]
    assert.deepEqual(topUnion(ps, 2).map(p => p.pid), [1, 2, 3])
  })
  it('diffEvents sees a start, an exit with its lifetime and a managed exit code, and a reused pid as both', () => {
    const a = snap(T0, [proc(10, 0, 1, T0 - 5000), proc(11, 0, 1, T0 - 5000), proc(12, 0, 1, T0 - 9000)])
    const { current } = diffEvents(undefined, a)
    const b = snap(T0 + 2000, [proc(10, 0, 1, T0 - 5000), proc(12, 0, 1, T0 + 1500), proc(13, 0, 1, T0 + 1000)])
    const exits = new Map([[procKey(11, T0 - 5000), { managedId: 'm1', exitCode: 3, signal: null }]])
    const { events } = diffEvents(current, b, { managedExits: exits })
    const byKind = events.map(e => `${e.kind}:${e.pid}`).sort()
    assert.deepEqual(byKind, ['exit:11', 'exit:12', 'start:12', 'start:13'])
    const e11 = events.find(e => e.pid === 11)
    assert.equal(e11?.lifetimeMs, 7000)
    assert.equal(e11?.exitCode, 3)
    assert.equal(e11?.managedId, 'm1')
    assert.equal(events.find(e => e.kind === 'start' && e.pid === 13)?.at, T0 + 1000)
  })
  it('after a restart only processes started since the last recorded sample are starts', () => {
    const { events } = diffEvents(undefined, snap(T0, [proc(1, 0, 1, T0 - 60_000), proc(2, 0, 1, T0 - 1000)]), { baselineAt: T0 - 5000 })
    assert.deepEqual(events.map(e => e.pid), [2])
  })
})

describe('history requests (protocol)', () => {
  it('keeps the 1.0.0 shape: since alone', () => {
    assert.deepEqual(HISTORY.validateRequest({ type: 'history', since: 5 }), { type: 'history', since: 5 })
  })
  it('refuses bad ranges naming the field', () => {
    assert.throws(() => validateHistoryRequest({ type: 'history', from: 10, to: 5 }), /from: must be before to/)
    assert.throws(() => validateHistoryRequest({ type: 'history', from: 10 }), /to: a range needs both/)
    assert.throws(() => validateHistoryRequest({ type: 'history', from: 1, to: 5, points: 0 }), /points/)
    assert.throws(() => validateHistoryRequest({ type: 'history', from: 1, to: 5, top: 1000 }), /top/)
    assert.throws(() => validateHistoryRequest({ type: 'history', events: true }), /events: needs a range/)
    assert.throws(() => validateHistoryRequest({ type: 'history', from: 0, to: 400 * 86_400_000 }), /longer than a year/)
    assert.throws(() => validateHistoryRequest({ type: 'history', from: 1, to: 5, pid: 7 }), /startTime: a process is named by pid and startTime together/)
    assert.throws(() => validateHistoryRequest({ type: 'history', pid: 7, startTime: 1 }), /pid: needs a range/)
    assert.throws(() => validateHistoryRequest({ type: 'history', from: 0, to: 5 * 3_600_000, pid: 7, startTime: 1 }), /pid: a process's series covers at most 4 h/)
    assert.deepEqual(validateHistoryRequest({ type: 'history', from: 1, to: 5, pid: 7, startTime: 2 }).pid, 7)
  })
  it('the control API takes the same fields and checks them alike', () => {
    assert.deepEqual(CONTROL_API.history.validateParams({ target: 'web3', from: 1, to: 5, top: 3, events: true }), { target: 'web3', from: 1, to: 5, top: 3, events: true, points: undefined, at: undefined, filter: undefined })
    assert.throws(() => CONTROL_API.history.validateParams({ target: 'web3', from: 5, to: 1 }), /from: must be before to/)
  })
})

describe('history store on disk', () => {
  it('a restarted node keeps its history; a range across the restart has no hole but the downtime', () => {
    const now = { t: T0 }
    const r1 = recorder(now)
    r1.start()
    recordSpan(r1, now, T0, T0 + 10 * 60_000)
    r1.stop()
    // down for five minutes, then a new process appeared while the node was down
    const restartAt = T0 + 15 * 60_000
    const r2 = recorder(now)
    r2.start()
    const late = proc(2000, 1, 1e6, T0 + 12 * 60_000, 'late')
    recordSpan(r2, now, restartAt, restartAt + 10 * 60_000, () => table([late]))
    const res = r2.query({ type: 'history', from: T0, to: restartAt + 10 * 60_000, points: 2000, events: true })
    assert.ok(res.range !== undefined)
    assert.equal(res.range.bucketMs, INTERVAL)
    assert.equal(res.points.length, 602)
    const gaps = res.points.slice(1).map((p, i) => p.at - res.points[i].at)
    assert.equal(gaps.filter(g => g > INTERVAL).length, 1, 'one hole')
    assert.equal(Math.max(...gaps), 5 * 60_000, 'the hole is the downtime')
    // the process started while the node was down is a start event, the ones from before are not
    assert.deepEqual(res.events?.map(e => `${e.kind}:${e.pid}`), ['start:2000'])
    r2.stop()
  })

  it('a long range is answered from the per-minute rollups, downsampled to the points asked', () => {
    const now = { t: T0 }
    const r = recorder(now)
    r.start()
    recordSpan(r, now, T0, T0 + 3 * 3_600_000)
    r.stop()
    r.start()
    const res = r.query({ type: 'history', from: T0, to: T0 + 3 * 3_600_000, points: 90 })
    assert.equal(res.range?.bucketMs, 120_000)
    assert.equal(res.points.length, 90)
    assert.equal(res.range?.samples, 5401)
    assert.ok(Math.abs(res.points[10].cpuPercent - 10) < 0.01)
    // the busy process leads the top over the range, with its pid and start time
    assert.equal(res.top?.[0].pid, 1000)
    assert.equal(res.top?.[0].startTime, T0 - 10_000)
    assert.ok(Math.abs((res.top?.[0].cpuPercent ?? 0) - 95) < 0.1)
    r.stop()
  })

  it('--at finds the sample nearest the time with its top processes', () => {
    const now = { t: T0 }
    const r = recorder(now)
    r.start()
    recordSpan(r, now, T0, T0 + 60_000)
    const res = r.query({ type: 'history', from: T0, to: T0 + 60_000, at: T0 + 31_000, top: 3 })
    assert.equal(res.atSample?.at, T0 + 30_000)
    assert.equal(res.atSample?.processes[0].name, 'busy')
    assert.equal(res.top, undefined)
    r.stop()
  })

  it('a process series (pid + start time) has its CPU and RSS where it was in the top, downsampled; a reused pid is not it', () => {
    const now = { t: T0 }
    const r = recorder(now)
    r.start()
    // pid 1000 is busy from T0 to T0+60s; then pid 1000 is reused by another process (new start time)
    recordSpan(r, now, T0, T0 + 60_000)
    recordSpan(r, now, T0 + 62_000, T0 + 120_000, () => [...table().filter(p => p.pid !== 1000), proc(1000, 80, 9e6, T0 + 61_000, 'reused')])
    const res = r.query({ type: 'history', from: T0, to: T0 + 120_000, points: 12, pid: 1000, startTime: T0 - 10_000 })
    const pts = res.process?.points ?? []
    assert.equal(res.process?.pid, 1000)
    assert.ok(pts.length >= 5 && pts.length <= 7, `one point per 10 s bucket of its first minute, got ${pts.length}`)
    assert.ok(pts.every(p => p.cpuPercent === 95 && p.rss === Math.round(5e6 / 1024) * 1024 && p.at <= T0 + 60_000))
    const wire = HISTORY.validateResult(JSON.parse(JSON.stringify(res)))
    assert.deepEqual(wire.process, res.process)
    r.stop()
  })

  it('retention drops segments older than the retention, oldest first', () => {
    const now = { t: T0 }
    const r = recorder(now, { retentionMs: 3 * 3_600_000 })
    r.start()
    recordSpan(r, now, T0, T0 + 5 * 3_600_000)
    const oldest = r.store.usage().oldest ?? 0
    assert.ok(oldest >= T0 + 5 * 3_600_000 - 4 * 3_600_000, `oldest ${new Date(oldest).toISOString()}`)
    assert.ok(oldest <= T0 + 2 * 3_600_000 + INTERVAL)
    r.stop()
  })

  it('the size cap drops the oldest segments first and holds the total under the cap', () => {
    const now = { t: T0 }
    const cap = 1024 * 1024
    const r = recorder(now, { maxBytes: cap })
    r.start()
    recordSpan(r, now, T0, T0 + 4 * 3_600_000)
    r.stop()
    const bytes = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0)
    assert.ok(bytes <= cap, `${bytes} bytes on disk`)
    r.start()
    const oldest = r.store.usage().oldest ?? 0
    assert.ok(oldest > T0 + 3_600_000, 'the first hours are gone')
    const res = r.query({ type: 'history', from: T0 + 3.5 * 3_600_000, to: T0 + 4 * 3_600_000, points: 2000 })
    assert.equal(res.points.length, 901, 'the newest data is kept')
    r.stop()
  })

  it('a truncated and corrupted store is survived with one warning per file', () => {
    const now = { t: T0 }
    const r1 = recorder(now)
    r1.start()
    recordSpan(r1, now, T0, T0 + 10 * 60_000)
    // killed with -9: no index was written; the last line was torn
    r1.store.close()
    const files = readdirSync(dir)
    const samples = files.find(f => f.endsWith('.s.jsonl')) ?? ''
    for (const f of files.filter(f => f.endsWith('.i.json'))) rmSync(join(dir, f))
    const path = join(dir, samples)
    truncateSync(path, statSync(path).size - 7)
    appendFileSync(path, '\u0000\u0000garbage{{{\n')
    writeFileSync(join(dir, `${T0 - 7_200_000}.i.json`), '{not json')
    const { log, warnings } = capture()
    const r2 = recorder(now, { log })
    r2.start()
    recordSpan(r2, now, T0 + 11 * 60_000, T0 + 12 * 60_000)
    const res = r2.query({ type: 'history', from: T0, to: T0 + 12 * 60_000, points: 2000 })
    assert.equal(res.points.length, 300 + 31, 'every whole line before the tear is kept')
    r2.query({ type: 'history', from: T0, to: T0 + 12 * 60_000, points: 2000 })
    assert.equal(warnings.filter(w => w.includes('unreadable')).length, 1, warnings.join('\n'))
    r2.stop()
  })

  it('doctor reads the size and the oldest record without opening the store', () => {
    assert.match(checkHistory(historyUsageOnDisk(join(dir, 'absent'))).message, /nothing recorded yet/)
    const now = { t: T0 }
    const r = recorder(now)
    r.start()
    recordSpan(r, now, T0 + 1000, T0 + 60_000)
    r.stop()
    const usage = historyUsageOnDisk(dir)
    assert.equal(usage.oldest, T0 + 1000)
    assert.equal(usage.segments, 1)
    assert.equal(usage.bytes, readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0))
    assert.match(checkHistory(usage).message, /MiB in 1 segment\(s\), oldest record 2026-11-01T03:00:01.000Z/)
  })
})
