import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MeshView, peerStatus } from '../../../node/mesh/mesh-view.js'
import { sampleSummary } from '../../fixtures-summary.js'

const SELF = '12D3KooWSelf'
const PEER = sampleSummary().peerId

describe('peerStatus', () => {
  const cases: Array<[string, number, number | undefined, string]> = [
    ['fresh', 1000, undefined, 'online'],
    ['just under 3 intervals', 5999, undefined, 'online'],
    ['3 intervals', 6000, undefined, 'stale'],
    ['just under 10 intervals', 19_999, undefined, 'stale'],
    ['10 intervals', 20_000, undefined, 'offline'],
    ['disconnected after last summary', 100, 50, 'offline'],
    ['summary newer than the disconnect', 100, -1, 'online']
  ]
  for (const [name, age, disconnectedDelta, expected] of cases) {
    it(`${name} -> ${expected}`, () => {
      const lastSeen = 1_000_000
      const disconnectedAt = disconnectedDelta === undefined ? undefined : lastSeen + disconnectedDelta
      assert.equal(peerStatus(lastSeen + age, lastSeen, 2000, disconnectedAt), expected)
    })
  }
})

describe('MeshView', () => {
  it('accepts a first summary and reports the peer as new', () => {
    const view = new MeshView(SELF)
    assert.deepEqual(view.offer(sampleSummary(), PEER, 0), { accepted: true, isNew: true })
    assert.deepEqual(view.offer(sampleSummary({ seq: 1001 }), PEER, 10), { accepted: true, isNew: false })
    assert.equal(view.size, 1)
  })

  it('rejects a forged summary and leaves the victim unchanged', () => {
    const view = new MeshView(SELF)
    view.offer(sampleSummary({ name: 'alpha' }), PEER, 0)
    const forged = view.offer(sampleSummary({ name: 'evil', seq: 5000 }), '12D3KooWMallory', 1)
    assert.equal(forged.accepted, false)
    assert.equal(view.get(PEER)?.name, 'alpha')
  })

  it('rejects a replayed summary and keeps the newer one', () => {
    const view = new MeshView(SELF)
    view.offer(sampleSummary({ seq: 2000, procCount: 7 }), PEER, 0)
    const replay = view.offer(sampleSummary({ seq: 1000, procCount: 99 }), PEER, 1)
    assert.equal(replay.accepted, false)
    assert.equal(view.get(PEER)?.procCount, 7)
  })

  it('refuses summaries claiming to be this node', () => {
    const view = new MeshView(SELF)
    const r = view.offer(sampleSummary({ peerId: SELF }), SELF, 0)
    assert.equal(r.accepted, false)
  })

  it('walks online -> stale -> offline, and back online on a new summary', () => {
    const view = new MeshView(SELF)
    view.offer(sampleSummary({ seq: 1 }), PEER, 0)
    assert.equal(view.status(PEER, 1000), 'online')
    assert.equal(view.status(PEER, 6000), 'stale')
    assert.equal(view.status(PEER, 20_000), 'offline')
    view.offer(sampleSummary({ seq: 2 }), PEER, 21_000)
    assert.equal(view.status(PEER, 21_000), 'online')
  })

  it('marks a disconnected peer offline until it speaks again', () => {
    const view = new MeshView(SELF)
    view.offer(sampleSummary({ seq: 1 }), PEER, 0)
    view.disconnected(PEER, 100)
    assert.equal(view.status(PEER, 200), 'offline')
    view.offer(sampleSummary({ seq: 2 }), PEER, 300)
    assert.equal(view.status(PEER, 300), 'online')
  })

  it('lists self first and always online, with the CLI fields', () => {
    const view = new MeshView(SELF)
    view.setSelf(sampleSummary({ peerId: SELF, name: 'zeta' }), 0)
    view.offer(sampleSummary(), PEER, 0)
    const entries = view.entries(1_000_000)
    assert.equal(entries[0].self, true)
    assert.equal(entries[0].status, 'online')
    assert.equal(entries[1].status, 'offline')
    for (const key of ['peerId', 'name', 'status', 'lastSeen', 'tags', 'addrs', 'self', 'host', 'procCount']) {
      assert.ok(key in entries[1], key)
    }
  })

  it('reports status transitions once each', () => {
    const view = new MeshView(SELF)
    view.offer(sampleSummary({ seq: 1 }), PEER, 0)
    assert.deepEqual(view.transitions(0), [{ type: 'peer:status', peerId: PEER, status: 'online' }])
    assert.deepEqual(view.transitions(100), [])
    assert.deepEqual(view.transitions(7000), [{ type: 'peer:status', peerId: PEER, status: 'stale' }])
  })
})
