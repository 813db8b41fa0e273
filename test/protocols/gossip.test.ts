import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  decodeGossip, encodeGossip, hostChanged, summaryChanges, topChanged, type GossipMessage
} from '../../protocols/gossip.js'
import { encodeSummary } from '../../protocols/summary.js'
import { sampleSummary } from '../fixtures-summary.js'

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const PEER = sampleSummary().peerId

describe('gossip messages', () => {
  it('round-trips every kind', () => {
    const summary = sampleSummary({ seq: 20 })
    const msgs: GossipMessage[] = [
      { v: 1, kind: 'full', peerId: PEER, seq: 20, prev: 10, at: summary.at, summary },
      { v: 1, kind: 'delta', peerId: PEER, seq: 21, prev: 20, at: 5, changes: { procCount: 43, topCpu: [] } },
      { v: 1, kind: 'alive', peerId: PEER, seq: 22, prev: 21, at: 6, changes: {} },
      { v: 1, kind: 'leave', peerId: PEER, seq: 23, prev: 22, at: 7 }
    ]
    for (const m of msgs) assert.deepEqual(decodeGossip(encodeGossip(m)), m)
  })

  it('reads a bare summary of the previous version as a full message', () => {
    const m = decodeGossip(encodeSummary(sampleSummary({ seq: 7 })))
    assert.equal(m.kind, 'full')
    assert.equal(m.seq, 7)
  })

  it('keeps deltas small: a process start is well under 200 bytes', () => {
    const bytes = encodeGossip({ v: 1, kind: 'delta', peerId: PEER, seq: 1_764_400_000_123, prev: 1_764_400_000_001, at: 1_764_400_000_123, changes: { procCount: 143 } })
    assert.ok(bytes.byteLength < 200, `${bytes.byteLength} bytes`)
  })

  const bad: Array<[string, unknown, RegExp]> = [
    ['unknown kind', { v: 1, kind: 'boom', peerId: PEER, seq: 2, prev: 1, at: 1 }, /message\.kind/],
    ['prev not before seq', { v: 1, kind: 'alive', peerId: PEER, seq: 2, prev: 2, at: 1, changes: {} }, /message\.prev/],
    ['a field a delta may not carry', { v: 1, kind: 'delta', peerId: PEER, seq: 2, prev: 1, at: 1, changes: { peerId: 'x' } }, /changes\.peerId/],
    ['an invalid value in a delta', { v: 1, kind: 'delta', peerId: PEER, seq: 2, prev: 1, at: 1, changes: { procCount: -1 } }, /procCount/],
    ['a delta without changes', { v: 1, kind: 'delta', peerId: PEER, seq: 2, prev: 1, at: 1 }, /changes/],
    ['wrong version', { v: 2, kind: 'alive', peerId: PEER, seq: 2, prev: 1, at: 1, changes: {} }, /message\.v/]
  ]
  for (const [name, value, re] of bad) {
    it(`refuses ${name}`, () => { assert.throws(() => decodeGossip(enc(value)), re) })
  }
  it('refuses oversized and non-JSON messages', () => {
    assert.throws(() => decodeGossip(new Uint8Array(5000)), /over the/)
    assert.throws(() => decodeGossip(new Uint8Array([0xff, 0x00])), /not valid UTF-8 JSON/)
  })
})

describe('what counts as a change', () => {
  const host = sampleSummary().host
  it('host: CPU by 10 points, memory by 5% of total, load by 0.5 and 25%', () => {
    assert.equal(hostChanged(host, { ...host, cpuPercent: host.cpuPercent + 9.9 }), false)
    assert.equal(hostChanged(host, { ...host, cpuPercent: host.cpuPercent + 10 }), true)
    assert.equal(hostChanged(host, { ...host, memUsed: host.memUsed + 0.04 * host.memTotal }), false)
    assert.equal(hostChanged(host, { ...host, memUsed: host.memUsed + 0.05 * host.memTotal }), true)
    assert.equal(hostChanged({ ...host, load: [4, 1, 1] }, { ...host, load: [4.9, 1, 1] }), false)
    assert.equal(hostChanged({ ...host, load: [0.1, 1, 1] }, { ...host, load: [0.7, 1, 1] }), true)
    assert.equal(hostChanged(host, { ...host, uptime: host.uptime + 100 }), false)
  })
  it('top CPU: idle processes reordering is no change; a busy newcomer is', () => {
    const a = [{ pid: 1, name: 'a', cpuPercent: 0.5, rss: 1 }, { pid: 2, name: 'b', cpuPercent: 0.3, rss: 1 }]
    const b = [{ pid: 2, name: 'b', cpuPercent: 0.6, rss: 1 }, { pid: 1, name: 'a', cpuPercent: 0.2, rss: 1 }]
    assert.equal(topChanged(a, b, 'cpu'), false)
    assert.equal(topChanged(a, [{ pid: 9, name: 'burn', cpuPercent: 99, rss: 1 }, ...a], 'cpu'), true)
    assert.equal(topChanged([{ pid: 9, name: 'burn', cpuPercent: 50, rss: 1 }], [{ pid: 9, name: 'burn', cpuPercent: 55, rss: 1 }], 'cpu'), false)
  })
  it('top memory: a 10% RSS move is a change', () => {
    const a = [{ pid: 1, name: 'a', cpuPercent: 0, rss: 1000 }]
    assert.equal(topChanged(a, [{ ...a[0], rss: 1050 }], 'mem'), false)
    assert.equal(topChanged(a, [{ ...a[0], rss: 1100 }], 'mem'), true)
  })
  it('summaryChanges names only what moved; `all` names every difference', () => {
    const s = sampleSummary()
    assert.deepEqual(summaryChanges(s, { ...s, procCount: 43, seq: 5000, at: 99 }), { procCount: 43 })
    assert.deepEqual(summaryChanges(s, { ...s, host: { ...s.host, uptime: 99999 } }), {})
    assert.deepEqual(Object.keys(summaryChanges(s, { ...s, host: { ...s.host, uptime: 99999 } }, true)), ['host'])
    assert.deepEqual(summaryChanges(s, { ...s, tags: { role: 'db' } }), { tags: { role: 'db' } })
  })
})
