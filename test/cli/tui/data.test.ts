import { describe, it, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { ProcmeshError } from '../../../protocols/errors.js'
import { MeshDataSource, historyPoints, reconnectDelay } from '../../../cli/tui/data.js'
import type { Action } from '../../../cli/tui/state.js'
import { BETA, SELF, proc, psEntry, sampleProcesses } from './fixtures.js'
import { FakeNode, sleep, until } from './fake-node.js'

function fakeMesh (): FakeNode {
  const node = new FakeNode()
  node.handlers.set('peers', () => [SELF, BETA])
  node.handlers.set('ps', (params, notify) => {
    const target = (params as { target: string }).target
    const entries = target === 'all'
      ? [psEntry(SELF, sampleProcesses()), psEntry(BETA, [proc(5, 1, 'redis')])]
      : [psEntry(target === BETA.peerId ? BETA : SELF, sampleProcesses())]
    for (const e of entries) notify(e)
    return entries
  })
  node.handlers.set('history', () => [
    { peerId: SELF.peerId, name: 'alpha', history: { intervalMs: 2000, memTotal: 1, points: [{ at: 1, cpuPercent: 5, memUsed: 1, load1: 0, procCount: 3 }] } },
    { peerId: BETA.peerId, name: 'beta', error: { code: 'TIMEOUT', message: 'slow' } }
  ])
  return node
}

let source: MeshDataSource | undefined
afterEach(() => { source?.stop(); source = undefined })

function start (node: FakeNode, opts: { intervalMs?: number } = {}): Action[] {
  const actions: Action[] = []
  source = new MeshDataSource({ connect: node.connect, dispatch: a => { actions.push(a) }, intervalMs: opts.intervalMs ?? 40, peersMs: 20, historyMs: 60 })
  source.start()
  return actions
}

describe('MeshDataSource', () => {
  it('connects, then polls peers, ps of the target and history', async () => {
    const node = fakeMesh()
    const actions = start(node)
    source?.setTarget(SELF.peerId)
    await until(() => actions.some(a => a.type === 'procs') && actions.some(a => a.type === 'history'), 3000, 'procs and history')
    assert.deepEqual(actions[0], { type: 'connection', state: 'up' })
    assert.ok(actions.some(a => a.type === 'peers' && a.peers.length === 2))
    const h = actions.find(a => a.type === 'history')
    assert.deepEqual(h, { type: 'history', entries: [{ peerId: SELF.peerId, points: [{ at: 1, cpu: 5 }] }] })
    await sleep(150)
    assert.ok(node.count('peers') >= 3, 'peers is polled again and again')
    assert.ok(node.count('peers') <= 15, 'but at its period, not in a loop')
    assert.ok(node.count('ps') >= 2)
  })

  it('polls at the default periods when none are given', async () => {
    const node = fakeMesh()
    source = new MeshDataSource({ connect: node.connect, dispatch: () => {}, intervalMs: 2000, peersMs: undefined, historyMs: undefined })
    source.start()
    await sleep(300)
    assert.equal(node.count('peers'), 1)
    assert.equal(node.count('history'), 1)
  })

  it('lists nothing without a target; a burst of target changes becomes one ps of the last', async () => {
    const node = fakeMesh()
    start(node, { intervalMs: 10_000 })
    await sleep(60)
    assert.equal(node.count('ps'), 0)
    source?.setTarget(SELF.peerId)
    source?.setTarget(BETA.peerId)
    source?.setTarget('all')
    await until(() => node.count('ps') >= 1)
    await sleep(100)
    assert.equal(node.count('ps'), 1)
    assert.deepEqual(node.calls.find(c => c.method === 'ps')?.params, { target: 'all', streamed: true })
  })

  it('holds routine process refreshes while keys keep coming, but not a new target', async () => {
    const node = fakeMesh()
    start(node, { intervalMs: 40 })
    source?.setTarget(SELF.peerId)
    await until(() => node.count('ps') >= 2)
    const typing = setInterval(() => { source?.noteInput() }, 50)
    try {
      source?.noteInput()
      const before = node.count('ps')
      await sleep(600)
      assert.ok(node.count('ps') - before <= 1, `at most the poll already due went out (${node.count('ps') - before})`)
      source?.setTarget(BETA.peerId)
      await until(() => node.calls.some(c => c.method === 'ps' && (c.params as { target: string }).target === BETA.peerId), 1000, 'the new target listed at once')
    } finally {
      clearInterval(typing)
    }
    const quiet = node.count('ps')
    await sleep(500)
    assert.ok(node.count('ps') > quiet + 2, 'refreshing again once the keys stop')
  })

  it('applies a fan-out as a batch, then only says which hosts answered', async () => {
    const node = fakeMesh()
    const streamed = node.handlers.get('ps')
    // the last host answers late: what streamed so far is applied before the whole answer is in
    node.handlers.set('ps', async (params, notify) => { const r = await streamed?.(params, notify); await sleep(400); return r })
    const actions = start(node, { intervalMs: 10_000 })
    source?.setTarget('all')
    await until(() => actions.filter(a => a.type === 'procs').length >= 2)
    const procs = actions.filter(a => a.type === 'procs')
    assert.equal(procs[0].type === 'procs' && procs[0].entries.length, 2, 'both streamed entries in one batch')
    assert.deepEqual(procs[1], { type: 'procs', entries: [], only: [SELF.peerId, BETA.peerId] })
  })

  it('says the node is restarting when it goes away, and reconnects when it is back', async () => {
    const node = fakeMesh()
    const actions = start(node)
    source?.setTarget(SELF.peerId)
    await until(() => actions.some(a => a.type === 'peers'))
    node.crash()
    await until(() => actions.some(a => a.type === 'connection' && a.state === 'down'))
    const down = actions.find(a => a.type === 'connection' && a.state === 'down')
    assert.ok(down?.type === 'connection' && /node restarting/.test(down.note ?? ''))
    await sleep(400)
    const retries = actions.filter(a => a.type === 'connection' && a.state === 'down').length
    assert.ok(retries >= 2, 'keeps retrying with backoff')
    const before = actions.length
    node.start()
    await until(() => actions.slice(before).some(a => a.type === 'connection' && a.state === 'up'), 5000, 'reconnect')
    await until(() => actions.slice(before).some(a => a.type === 'procs'), 3000, 'polling again')
    assert.equal(node.openConnections, 1)
  })

  it('stops polling history on a node without it, and reports a repeating error once', async () => {
    const node = fakeMesh()
    node.handlers.delete('history')
    node.handlers.set('ps', () => { throw new ProcmeshError('FORBIDDEN', 'forbidden: missing role read') })
    const actions = start(node)
    source?.setTarget(SELF.peerId)
    await sleep(300)
    assert.equal(node.count('history'), 1)
    const errors = actions.filter(a => a.type === 'status')
    assert.equal(errors.length, 1)
    assert.ok(errors[0].type === 'status' && /forbidden: missing role read/.test(errors[0].text))
  })

  it('follows logs on a connection of its own, closed by cancel', async () => {
    const node = fakeMesh()
    let release: () => void = () => {}
    node.handlers.set('logs', (_params, notify) => {
      notify({ stream: 'stdout', data: 'line 1\n' })
      return new Promise(resolve => { release = () => { resolve({ exited: true, exitCode: 0, signal: null, truncated: false }) } })
    })
    start(node)
    await until(() => node.openConnections === 1)
    const chunks: string[] = []
    const { follow, done } = await (source as MeshDataSource).followLogs(SELF.peerId, 'm1', d => { chunks.push(d) })
    assert.equal(node.openConnections, 2)
    await until(() => chunks.length === 1)
    assert.deepEqual(node.calls.find(c => c.method === 'logs')?.params, { target: SELF.peerId, managedId: 'm1', follow: true })
    follow.cancel()
    await assert.rejects(done)
    assert.equal(node.openConnections, 1)
    release()
  })

  it('stop() leaves no connection and no timer behind', async () => {
    const node = fakeMesh()
    start(node)
    await until(() => node.count('peers') > 0)
    source?.stop()
    const calls = node.calls.length
    await sleep(100)
    assert.equal(node.calls.length, calls)
    assert.equal(node.openConnections, 0)
  })
})

describe('helpers', () => {
  it('reconnectDelay doubles up to a cap', () => {
    assert.deepEqual([0, 1, 2, 3, 10, 100].map(reconnectDelay), [250, 500, 1000, 2000, 5000, 5000])
  })
  it('historyPoints reads an entry and skips errors', () => {
    const point = { at: 1, cpuPercent: 2, memUsed: 1, load1: 0, procCount: 3 }
    assert.deepEqual(historyPoints({ peerId: 'p', name: 'n', history: { intervalMs: 1000, memTotal: 1, points: [point] } }), { peerId: 'p', points: [{ at: 1, cpu: 2 }] })
    assert.equal(historyPoints({ peerId: 'p', name: 'n', error: { code: 'TIMEOUT', message: '' } }), undefined)
  })
})
