import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MeshView, peerStatus, type Liveness } from '../../../node/mesh/mesh-view.js'
import { keepAliveMs, MAX_RELAYED_AUTHORS_PER_PEER, MAX_VIEW_PEERS } from '../../../protocols/limits.js'
import type { DeltaMessage, GossipMessage } from '../../../protocols/gossip.js'
import { sampleSummary } from '../../fixtures-summary.js'

const SELF = '12D3KooWSelf'
const PEER = sampleSummary().peerId

// a view of self and one peer: the shortest keep-alive period
const K = keepAliveMs(2)

describe('peerStatus', () => {
  const base = 1_000_000
  const cases: Array<[string, Partial<Liveness> & { age: number }, string]> = [
    ['connected, probes answered', { connected: true, age: 10 * K }, 'online'],
    ['connected, a probe failed', { connected: true, suspectSince: base, age: 0 }, 'stale'],
    ['connection closed after the last message', { connected: false, disconnectedAt: base + 50, age: 100 }, 'offline'],
    ['relayed message newer than the disconnect', { connected: false, disconnectedAt: base - 1, age: 100 }, 'online'],
    ['said goodbye', { connected: true, left: true, age: 0 }, 'offline'],
    ['relayed, just under 2.5 keep-alives', { connected: false, age: 2.5 * K - 1 }, 'online'],
    ['relayed, 2.5 keep-alives', { connected: false, age: 2.5 * K }, 'stale'],
    ['relayed, 4 keep-alives', { connected: false, age: 4 * K }, 'offline']
  ]
  for (const [name, c, expected] of cases) {
    it(`${name} -> ${expected}`, () => {
      assert.equal(peerStatus(base + c.age, { keepAliveMs: K, lastSeen: base, connected: c.connected ?? false, disconnectedAt: c.disconnectedAt, suspectSince: c.suspectSince, left: c.left }), expected)
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

  it('walks a relayed peer online -> stale -> offline, and back online on a new message', () => {
    const view = new MeshView(SELF)
    view.offer(sampleSummary({ seq: 1 }), PEER, 0)
    assert.equal(view.status(PEER, 1000), 'online')
    assert.equal(view.status(PEER, 2.5 * K), 'stale')
    assert.equal(view.status(PEER, 4 * K), 'offline')
    view.offer(sampleSummary({ seq: 2 }), PEER, 4 * K + 1)
    assert.equal(view.status(PEER, 4 * K + 1), 'online')
  })

  it('keeps a connected peer online without messages, stale while probes fail, offline when dropped', () => {
    const view = new MeshView(SELF)
    view.connected(PEER, 0)
    view.offer(sampleSummary({ seq: 1 }), PEER, 0)
    assert.equal(view.status(PEER, 100 * K), 'online')
    view.probeFailed(PEER, 100 * K)
    assert.equal(view.status(PEER, 100 * K + 1), 'stale')
    view.probeOk(PEER, 100 * K + 2)
    assert.equal(view.status(PEER, 100 * K + 3), 'online')
    view.probeFailed(PEER, 100 * K + 4)
    view.disconnected(PEER, 100 * K + 5)
    assert.equal(view.status(PEER, 100 * K + 6), 'offline')
  })

  it('applies deltas in order, flags a gap for a full pull, and ignores replays', () => {
    const view = new MeshView(SELF)
    view.offer(sampleSummary({ seq: 10, procCount: 5 }), PEER, 0)
    const delta = (seq: number, prev: number, procCount: number): DeltaMessage => ({ v: 1, kind: 'delta', peerId: PEER, seq, prev, at: seq, changes: { procCount } })
    assert.deepEqual(view.offerMessage(delta(11, 10, 6), PEER, 1), { accepted: true, isNew: false, needFull: false })
    assert.equal(view.get(PEER)?.procCount, 6)
    // 12 was lost: 13 still applies (fields are absolute) but the view asks for the full state
    assert.deepEqual(view.offerMessage(delta(13, 12, 8), PEER, 2), { accepted: true, isNew: false, needFull: true })
    assert.equal(view.get(PEER)?.procCount, 8)
    assert.equal(view.offerMessage(delta(13, 12, 99), PEER, 3).accepted, false)
    assert.equal(view.get(PEER)?.procCount, 8)
    // the pulled full summary (same or newer seq) clears the gap
    assert.deepEqual(view.offer(sampleSummary({ seq: 13, procCount: 8 }), PEER, 4, true), { accepted: true, isNew: false })
    assert.deepEqual(view.offerMessage(delta(14, 13, 9), PEER, 5), { accepted: true, isNew: false, needFull: false })
  })

  it('rejects a delta describing another node as forged, and asks for the full state of an unknown one', () => {
    const view = new MeshView(SELF)
    view.offer(sampleSummary({ seq: 10, name: 'alpha' }), PEER, 0)
    const forged = view.offerMessage({ v: 1, kind: 'delta', peerId: PEER, seq: 50, prev: 10, at: 50, changes: { name: 'evil' } }, '12D3KooWMallory', 1)
    assert.deepEqual(forged.accepted, false)
    assert.equal(forged.accepted === false && forged.forged, true)
    assert.equal(view.get(PEER)?.name, 'alpha')
    const unknown = view.offerMessage({ v: 1, kind: 'alive', peerId: '12D3KooWOther', seq: 5, prev: 4, at: 5, changes: {} }, '12D3KooWOther', 1)
    assert.deepEqual(unknown, { accepted: true, isNew: false, needFull: true })
  })

  it('marks a peer that said goodbye offline at once', () => {
    const view = new MeshView(SELF)
    view.connected(PEER, 0)
    view.offer(sampleSummary({ seq: 10 }), PEER, 0)
    view.offerMessage({ v: 1, kind: 'leave', peerId: PEER, seq: 11, prev: 10, at: 11 }, PEER, 1)
    assert.equal(view.status(PEER, 2), 'offline')
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
    assert.deepEqual(view.transitions(2.5 * K), [{ type: 'peer:status', peerId: PEER, status: 'stale' }])
  })
})

describe('MeshView under a flood of relayed strangers (issue 17 finding 6)', () => {
  const fake = (i: number): string => `12D3KooWFake${String(i).padStart(8, '0')}`
  const full = (id: string, seq = 1): GossipMessage => ({ v: 1, kind: 'full', peerId: id, seq, prev: 0, at: 0, summary: sampleSummary({ peerId: id, name: id.slice(-8), seq }) })

  it('one member relaying 1,100 fresh keys introduces at most MAX_RELAYED_AUTHORS_PER_PEER of them', () => {
    const view = new MeshView(SELF)
    view.connected('relayer', 0)
    let taken = 0
    let refusal = ''
    for (let i = 0; i < 1100; i++) {
      const r = view.offerMessage(full(fake(i)), fake(i), 1, 'relayer')
      if (r.accepted) taken++
      else refusal = r.reason
    }
    assert.equal(taken, MAX_RELAYED_AUTHORS_PER_PEER)
    assert.match(refusal, /relayer already relayed 128 peers this node has no connection to \(at most 128 per relaying peer\)/)
    // a properly joined host relayed by another member still gets in, and its own pull always does
    assert.equal(view.offerMessage(full('12D3KooWHonest'), '12D3KooWHonest', 2, 'other').accepted, true)
    // a stranger the relayer vouched for becomes ours once we connect to it: the relayer's budget frees up
    view.connected(fake(0), 3)
    assert.equal(view.offerMessage(full(fake(5000)), fake(5000), 4, 'relayer').accepted, true)
  })

  it('a full view makes room for a connected member by dropping a relayed stranger, offline ones first, and says it is full', () => {
    const view = new MeshView(SELF)
    // fill the view through many relayers, each within its budget
    for (let i = 0; i < MAX_VIEW_PEERS; i++) view.offerMessage(full(fake(i)), fake(i), 1000 + i, `relayer-${Math.floor(i / 100)}`)
    assert.equal(view.size, MAX_VIEW_PEERS)
    view.reportedGone(fake(700), 5000)
    const stranger = view.offerMessage(full(fake(9999)), fake(9999), 6000, 'relayer-x')
    assert.equal(stranger.accepted, false)
    assert.ok(!stranger.accepted && stranger.full === true && /view is full \(1024 peers\)/.test(stranger.reason))
    // a member connected to us is never refused for room: it takes the offline stranger's place
    view.connected('12D3KooWMember', 6000)
    assert.equal(view.offer(sampleSummary({ peerId: '12D3KooWMember' }), '12D3KooWMember', 6000, true).accepted, true)
    assert.equal(view.size, MAX_VIEW_PEERS)
    assert.equal(view.get(fake(700)), undefined, 'the offline stranger went first')
    assert.ok(view.get('12D3KooWMember') !== undefined)
    // then the longest-unheard online stranger
    assert.equal(view.offer(sampleSummary({ peerId: '12D3KooWMember2' }), '12D3KooWMember2', 6001, true).accepted, true)
    assert.equal(view.get(fake(0)), undefined)
  })
})
