/** The live mesh events: diffing views, one shared poller, polling only while someone listens. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ProcmeshError } from '../../protocols/errors.js'
import type { PeerEntry, PeerStatus } from '../../protocols/types.js'
import { PeerPoller, diffPeers, type MeshEvent } from '../../cli/web/mesh-events.js'

function peer (peerId: string, status: PeerStatus = 'online', cpuPercent = 1, lastSeen = 1000): PeerEntry {
  return {
    peerId,
    name: `n-${peerId}`,
    status,
    lastSeen,
    tags: {},
    addrs: [],
    self: peerId === 'a',
    host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 2, cpuPercent, load: [0, 0, 0], memTotal: 100, memUsed: 50, uptime: 1 },
    procCount: 3,
    version: '0.1.0',
    topCpu: [],
    topMem: []
  }
}

async function until (what: string, fn: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

describe('web: diffPeers', () => {
  it('reports nothing for the same view', () => {
    assert.deepEqual(diffPeers([peer('a'), peer('b')], [peer('a'), peer('b')]), [])
  })
  it('reports joins, leaves, status changes and newer summaries', () => {
    const events = diffPeers([peer('a'), peer('b'), peer('c')], [peer('a', 'online', 5, 2000), peer('b', 'stale'), peer('d')])
    assert.deepEqual(events.map(e => e.type), ['summary', 'peer-status', 'peer-joined', 'peer-left'])
    const status = events[1]
    assert.ok(status.type === 'peer-status')
    assert.equal(status.previous, 'online')
    assert.equal(status.peer.status, 'stale')
    const left = events[3]
    assert.ok(left.type === 'peer-left')
    assert.deepEqual(left, { type: 'peer-left', peerId: 'c', name: 'n-c' })
  })
  it('sends hosts in the contract shape of peers --json', () => {
    const [joined] = diffPeers([], [peer('a')])
    assert.ok(joined.type === 'peer-joined')
    assert.deepEqual(Object.keys(joined.peer), ['peerId', 'name', 'status', 'lastSeen', 'tags', 'addrs', 'self', 'host', 'procCount', 'version'])
  })
})

describe('web: PeerPoller', () => {
  it('polls only while someone listens, shares one poll among listeners, and gives late listeners a snapshot', async () => {
    let view = [peer('a'), peer('b')]
    let calls = 0
    const poller = new PeerPoller({ intervalMs: 20, fetchPeers: async () => { calls++; return view } })
    assert.equal(poller.running, false)
    const first: MeshEvent[] = []
    const second: MeshEvent[] = []
    const offFirst = poller.subscribe(e => { first.push(e) })
    assert.equal(poller.running, true)
    await until('a snapshot', () => first.length > 0)
    assert.equal(first[0].type, 'snapshot')
    const offSecond = poller.subscribe(e => { second.push(e) })
    assert.equal(second[0]?.type, 'snapshot', 'a late listener gets the current view at once')
    const before = calls
    await new Promise(resolve => setTimeout(resolve, 110))
    // two listeners, one poller: about one call per interval, not two
    assert.ok(calls - before <= 7, `${calls - before} polls in 110 ms at 20 ms`)
    view = [peer('a'), peer('b', 'offline')]
    await until('a status event for both', () => first.some(e => e.type === 'peer-status') && second.some(e => e.type === 'peer-status'))
    offFirst()
    assert.equal(poller.running, true)
    offSecond()
    assert.equal(poller.running, false)
    const stopped = calls
    await new Promise(resolve => setTimeout(resolve, 80))
    assert.ok(calls - stopped <= 1, 'no polling without listeners (at most the one in flight)')
  })

  it('reports the node going away once, and a snapshot when it is back', async () => {
    let fail = false
    const poller = new PeerPoller({ intervalMs: 10, fetchPeers: async () => { if (fail) throw new ProcmeshError('NO_NODE', 'no node is running'); return [peer('a')] } })
    const events: MeshEvent[] = []
    const off = poller.subscribe(e => { events.push(e) })
    await until('a snapshot', () => events.length === 1)
    fail = true
    await until('a node error', () => events.some(e => e.type === 'node-error'))
    await new Promise(resolve => setTimeout(resolve, 60))
    assert.equal(events.filter(e => e.type === 'node-error').length, 1, 'the same failure is reported once')
    const err = events.find(e => e.type === 'node-error')
    assert.ok(err?.type === 'node-error')
    assert.deepEqual(err.error, { code: 'NO_NODE', message: 'no node is running' })
    fail = false
    await until('a new snapshot', () => events.filter(e => e.type === 'snapshot').length === 2)
    off()
  })

  it('a listener that throws does not stop the others', async () => {
    const seen: string[] = []
    const errors: unknown[] = []
    const poller = new PeerPoller({ intervalMs: 10, fetchPeers: async () => [peer('a')], onListenerError: err => { errors.push(err) } })
    const offBad = poller.subscribe(() => { throw new Error('bad listener') })
    const offGood = poller.subscribe(e => { seen.push(e.type) })
    await until('an event for the good listener', () => seen.length > 0)
    assert.ok(errors.length > 0)
    offBad()
    offGood()
    poller.stop()
    assert.equal(poller.running, false)
  })
})
