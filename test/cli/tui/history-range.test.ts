/**
 * Issue 14 in `procmesh top`: the hosts' sparklines over 1 h / 24 h / 7 d from each host's
 * durable history (w cycles), and a process's own CPU/RSS history in its details.
 */
import { describe, it, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { MeshDataSource, PROC_HISTORY_POINTS } from '../../../cli/tui/data.js'
import { resolveKey } from '../../../cli/tui/keymap.js'
import { SPARK_WIDTH, TRAIL_RANGE_MS, type Action } from '../../../cli/tui/model.js'
import { procHistoryTarget, trailRangeQuery } from '../../../cli/tui/selectors.js'
import { detailsLines } from '../../../cli/tui/widgets/details.js'
import { UNICODE_GLYPHS } from '../../../cli/tui/widgets/glyphs.js'
import { hostLines } from '../../../cli/tui/widgets/hosts.js'
import { stripTags } from '../../../cli/tui/widgets/text.js'
import { BETA, SELF, T0, loadedState, run } from './fixtures.js'
import { FakeNode, until } from './fake-node.js'

const U = UNICODE_GLYPHS

describe('sparkline ranges (w)', () => {
  it('w cycles live, 1h, 24h, 7d and back; the column label follows', () => {
    assert.deepEqual(resolveKey({ focus: 'hosts' }, 'w', 'w'), { type: 'cycleRange' })
    let s = loadedState()
    assert.match(stripTags(hostLines(s, 158, 5, U, false)[0]), /CPU 8m/)
    const labels: string[] = []
    for (let i = 0; i < 4; i++) {
      s = run(s, { type: 'cycleRange' }).state
      labels.push(/CPU (\w+)/.exec(stripTags(hostLines(s, 158, 5, U, false)[0]))?.[1] ?? '?')
    }
    assert.deepEqual(labels, ['1h', '24h', '7d', '8m'])
  })

  it('a range draws the hosts\' recorded points over its whole span; an answer for another range is dropped', () => {
    let s = run(loadedState(), { type: 'cycleRange' }, { type: 'cycleRange' }).state
    assert.deepEqual(trailRangeQuery(s), { range: '24h', ms: TRAIL_RANGE_MS['24h'] })
    // a 1 h answer arriving late changes nothing
    s = run(s, { type: 'rangeHistory', range: '1h', entries: [{ peerId: SELF.peerId, points: [{ at: T0 - 60_000, cpu: 100 }] }] }).state
    assert.equal(s.rangeTrail, undefined)
    // 24 h: one point 23 h ago at 100%, one now at 100%: the first and last cells are full
    const hour = 3_600_000
    s = run(s, { type: 'rangeHistory', range: '24h', entries: [{ peerId: SELF.peerId, points: [{ at: T0 - 23.5 * hour, cpu: 100 }, { at: T0 - 1000, cpu: 100 }] }] }).state
    const line = stripTags(hostLines(s, 158, 5, U, false).find(l => l.includes('alpha')) ?? '')
    assert.match(line, / █ {14}█ /, `the first and the last of ${SPARK_WIDTH} cells: ${line}`)
    // back to live: the live trail again, and nothing is fetched
    s = run(s, { type: 'cycleRange' }, { type: 'cycleRange' }).state
    assert.equal(trailRangeQuery(s), undefined)
  })

  it('at 80 columns the hosts pane keeps load and the sparkline', () => {
    const header = stripTags(hostLines(loadedState(), 78, 5, U, false)[0])
    assert.match(header, /STATUS +NAME +CPU% +MEM +PROCS LOAD +CPU 8m/)
    assert.ok(header.length <= 78)
  })
})

describe('a process\'s own history in its details', () => {
  it('the open details name the process to fetch; its points draw a CPU and an RSS sparkline', () => {
    let s = run(loadedState(), { type: 'enter' }).state
    const t = procHistoryTarget(s)
    assert.ok(t !== undefined && t.pid === 21 && t.peerId === SELF.peerId)
    // an answer about another process (the user moved on) is dropped
    s = run(s, { type: 'procHistory', peerId: SELF.peerId, pid: 22, startTime: t.startTime, points: [{ at: T0, cpu: 1, rss: 1 }] }).state
    assert.equal(s.details?.history, undefined)
    s = run(s, { type: 'procHistory', peerId: SELF.peerId, pid: 21, startTime: t.startTime, points: [{ at: T0 - 30 * 60_000, cpu: 20, rss: 10 * 2 ** 20 }, { at: T0 - 1000, cpu: 80, rss: 50 * 2 ** 20 }] }).state
    const d = s.details
    assert.ok(d !== undefined)
    const lines = detailsLines(d, [], T0, 120, 12, U).map(stripTags)
    const h = lines.find(l => l.startsWith('history 1h')) ?? ''
    assert.match(h, /^history 1h {2}CPU .*▇ max 80\.0% {2}RSS .*█ max 50\.0M$/)
    s = run(s, { type: 'procHistory', peerId: SELF.peerId, pid: 21, startTime: t.startTime, points: [] }).state
    assert.ok(detailsLines(s.details ?? d, [], T0, 120, 12, U).map(stripTags).some(l => /history 1h: not among the host's busiest/.test(l)))
    // closing the details stops asking
    assert.equal(procHistoryTarget(run(s, { type: 'back' }).state), undefined)
  })
})

describe('the data source asks the node', () => {
  let source: MeshDataSource | undefined
  afterEach(() => { source?.stop(); source = undefined })

  it('for a range of every host downsampled to the sparkline, and for one process by pid and start time', async () => {
    const node = new FakeNode()
    node.handlers.set('peers', () => [SELF, BETA])
    node.handlers.set('ps', () => [])
    node.handlers.set('history', params => {
      const p = params as { pid?: number }
      const history = { intervalMs: 2000, memTotal: 1, points: [{ at: T0, cpuPercent: 42, memUsed: 1, load1: 0, procCount: 3 }], range: { from: 0, to: 1, bucketMs: 1, samples: 1, oldest: 0 } }
      return p.pid !== undefined
        ? [{ peerId: SELF.peerId, name: 'alpha', history: { ...history, process: { pid: p.pid, startTime: 5, points: [{ at: T0, cpuPercent: 7, rss: 1024 }] } } }]
        : [{ peerId: SELF.peerId, name: 'alpha', history }]
    })
    const actions: Action[] = []
    source = new MeshDataSource({ connect: node.connect, dispatch: a => { actions.push(a) }, intervalMs: 1000, peersMs: 1000, historyMs: 1000, now: () => T0 })
    source.start()
    source.setRange({ range: '24h', ms: TRAIL_RANGE_MS['24h'] })
    source.setProcHistory({ peerId: SELF.peerId, pid: 21, startTime: 5, ms: 3_600_000 })
    await until(() => actions.some(a => a.type === 'rangeHistory') && actions.some(a => a.type === 'procHistory'), 3000, 'both answers')
    const ranged = node.calls.find(c => (c.params as { points?: number }).points === SPARK_WIDTH)?.params
    assert.deepEqual(ranged, { target: 'all', from: T0 - TRAIL_RANGE_MS['24h'], to: T0, points: SPARK_WIDTH, top: 0 })
    const proc = node.calls.find(c => (c.params as { pid?: number }).pid !== undefined)?.params
    assert.deepEqual(proc, { target: SELF.peerId, from: T0 - 3_600_000, to: T0, points: PROC_HISTORY_POINTS, top: 0, pid: 21, startTime: 5 })
    assert.deepEqual(actions.find(a => a.type === 'rangeHistory'), { type: 'rangeHistory', range: '24h', entries: [{ peerId: SELF.peerId, points: [{ at: T0, cpu: 42 }] }] })
    assert.deepEqual(actions.find(a => a.type === 'procHistory'), { type: 'procHistory', peerId: SELF.peerId, pid: 21, startTime: 5, points: [{ at: T0, cpu: 7, rss: 1024 }] })
  })

  it('a process chosen while the last one\'s answer is in flight is asked right after it, not a period later', async () => {
    const node = new FakeNode()
    node.handlers.set('peers', () => [SELF])
    node.handlers.set('ps', () => [])
    node.handlers.set('history', async params => {
      await new Promise(resolve => setTimeout(resolve, 200))
      const pid = (params as { pid?: number }).pid ?? 0
      const history = { intervalMs: 2000, memTotal: 1, points: [], range: { from: 0, to: 1, bucketMs: 1, samples: 0, oldest: 0 }, process: { pid, startTime: 5, points: [] } }
      return [{ peerId: SELF.peerId, name: 'alpha', history }]
    })
    const actions: Action[] = []
    source = new MeshDataSource({ connect: node.connect, dispatch: a => { actions.push(a) }, intervalMs: 60_000, peersMs: 60_000, historyMs: 60_000, now: () => T0 })
    source.start()
    source.setProcHistory({ peerId: SELF.peerId, pid: 21, startTime: 5, ms: 3_600_000 })
    await until(() => node.calls.some(c => (c.params as { pid?: number }).pid === 21), 3000, 'the first process asked')
    source.setProcHistory({ peerId: SELF.peerId, pid: 22, startTime: 5, ms: 3_600_000 })
    await until(() => actions.some(a => a.type === 'procHistory' && a.pid === 22), 3000, 'the second process asked within seconds')
  })
})
