/** Notices about managed processes: the diff of two `ls all` answers, and the watcher that polls only while someone listens. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { LsEntry } from '../../protocols/control.js'
import { NO_RESTART, type ManagedProcess } from '../../protocols/managed.js'
import type { MeshEvent } from '../../cli/web/api-types.js'
import { ManagedWatcher, diffManaged } from '../../cli/web/managed-events.js'
import { managedNotice } from '../../cli/web/page-lib.js'
import { waitFor } from '../../testkit/sim-hosts.js'

function rec (id: string, extra: Partial<ManagedProcess> = {}): ManagedProcess {
  return {
    managedId: id, name: `n-${id}`, argv: ['sleep', '60'], pid: 100, startTime: 1000, state: 'running', policy: { ...NO_RESTART }, restarts: 0,
    requestedBy: 'local', lastExit: null, nextRestartAt: null, cpuPercent: 0, rss: 0, ...extra
  }
}

function host (peerId: string, processes: ManagedProcess[]): LsEntry {
  return { peerId, name: `host-${peerId}`, processes }
}

const exit = (at: number, code: number | null, signal: string | null = null): ManagedProcess['lastExit'] => ({ code, signal, at, whileDown: false })

describe('web: diffManaged', () => {
  const changes = (prev: LsEntry[], next: LsEntry[]): Array<[string, string]> => diffManaged(prev, next).map(e => [e.process.managedId, e.change])

  it('an exit, an exit already restarted by the policy, a crash loop', () => {
    const prev = [host('a', [rec('m1'), rec('m2'), rec('m3', { state: 'restarting', restarts: 3, lastExit: exit(5, 1) }), rec('m4')])]
    const next = [host('a', [
      rec('m1', { state: 'exited', lastExit: exit(10, 3) }),
      rec('m2', { pid: 101, restarts: 1, lastExit: exit(11, null, 'KILL') }),
      rec('m3', { state: 'crash-loop', restarts: 10, lastExit: exit(12, 1) }),
      rec('m4')
    ])]
    assert.deepEqual(changes(prev, next), [['m1', 'exited'], ['m2', 'restarted'], ['m3', 'crash-loop']])
  })

  it('nothing new, nothing told; a crash loop is told once', () => {
    const looping = [host('a', [rec('m1', { state: 'crash-loop', lastExit: exit(12, 1) })])]
    assert.deepEqual(changes(looping, looping), [])
    const running = [host('a', [rec('m1', { lastExit: exit(12, 0) })])]
    assert.deepEqual(changes(running, running), [])
  })

  it('a record new since the last answer tells what it already did; a host answering for the first time tells nothing', () => {
    const prev = [host('a', [])]
    const next = [host('a', [rec('fresh'), rec('dead', { state: 'exited', lastExit: exit(3, 2) }), rec('loop', { state: 'crash-loop', lastExit: exit(4, 1) })]),
      host('b', [rec('old', { state: 'exited', lastExit: exit(3, 1) })])]
    assert.deepEqual(changes(prev, next), [['dead', 'exited'], ['loop', 'crash-loop']])
    // a host that failed before is back: its state is not news
    assert.deepEqual(changes([{ peerId: 'b', name: 'host-b', error: { code: 'TIMEOUT', message: 'slow' } }], next.slice(1)), [])
  })

  it('the notice says what happened in words', () => {
    const at = (m: ManagedProcess, change: 'exited' | 'restarted' | 'crash-loop'): string => managedNotice({ change, host: 'web1', process: m }).text
    assert.equal(at(rec('m1', { name: 'api', state: 'exited', lastExit: exit(1, 3) }), 'exited'), 'api on web1 exited (code 3)')
    assert.equal(at(rec('m1', { name: 'api', state: 'restarting', lastExit: exit(1, null, 'SEGV') }), 'exited'), 'api on web1 exited (SIGSEGV); restarting')
    assert.equal(at(rec('m1', { name: 'api', state: 'stopped', lastExit: exit(1, null, 'TERM') }), 'exited'), 'api on web1 exited (SIGTERM); stopped through procmesh')
    assert.equal(at(rec('m1', { name: null, restarts: 1, lastExit: exit(1, 1) }), 'restarted'), 'm1 on web1 exited (code 1) and was restarted by its policy (1 restart)')
    assert.equal(at(rec('m1', { name: 'api', state: 'crash-loop', restarts: 10, lastExit: { code: null, signal: null, at: 1, whileDown: true } }), 'crash-loop'),
      'api on web1 is in crash-loop after 10 restarts (last exit: exit status unknown); it stays down until restarted')
    assert.equal(managedNotice({ change: 'crash-loop', host: 'h', process: rec('m') }).kind, 'error')
  })
})

describe('web: ManagedWatcher', () => {
  it('polls only while someone listens, and tells each listener what changed', async () => {
    let answer: LsEntry[] = [host('a', [rec('m1')])]
    let polls = 0
    const watcher = new ManagedWatcher({ fetchManaged: async () => { polls++; return answer }, intervalMs: 20 })
    const got: MeshEvent[] = []
    const stop = watcher.subscribe(e => { got.push(e) })
    try {
      await waitFor(() => polls >= 2 ? true : undefined, { timeoutMs: 5000, what: 'two polls' })
      assert.equal(got.length, 0, 'the first answer is the baseline')
      answer = [host('a', [rec('m1', { state: 'exited', lastExit: exit(9, 1) })])]
      await waitFor(() => got.length > 0 ? true : undefined, { timeoutMs: 5000, what: 'the exit notice' })
      assert.equal(got[0].type === 'managed' ? got[0].change : '', 'exited')
    } finally {
      stop()
    }
    assert.equal(watcher.running, false)
    const after = polls
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.ok(polls <= after + 1, 'no polling without listeners')
  })

  it('a failing node keeps the last answer as the baseline', async () => {
    let fail = false
    let answer: LsEntry[] = [host('a', [rec('m1')])]
    const watcher = new ManagedWatcher({ fetchManaged: async () => { if (fail) throw new Error('no node'); return answer }, intervalMs: 20 })
    const got: MeshEvent[] = []
    const stop = watcher.subscribe(e => { got.push(e) })
    try {
      await new Promise(resolve => setTimeout(resolve, 80))
      fail = true
      await new Promise(resolve => setTimeout(resolve, 80))
      answer = [host('a', [rec('m1', { state: 'exited', lastExit: exit(9, 1) })])]
      fail = false
      await waitFor(() => got.length > 0 ? true : undefined, { timeoutMs: 5000, what: 'the exit that happened while the node was away' })
    } finally {
      stop()
    }
  })
})
