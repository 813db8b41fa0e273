import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildTree, flattenTree } from '../../protocols/processes.js'
import {
  commandLabel, formatPeerHeader, formatProcessTable, formatProcessTree, managedMark,
  processJson, psEntryJson, selectProcesses, truncate
} from '../../cli/process-view.js'
import type { ProcessInfo } from '../../protocols/types.js'

// a fixed local-time "now" so START cells are stable in any time zone
const NOW = new Date(2026, 4, 10, 15, 30).getTime()
const TODAY_0905 = new Date(2026, 4, 10, 9, 5).getTime()
const EARLIER = new Date(2026, 2, 3, 12, 0).getTime()

function proc (pid: number, extra: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    pid, ppid: 1, uid: 1000, user: 'alice', name: `p${pid}`, cmd: `/usr/bin/p${pid} --flag`, state: 'S',
    cpuPercent: 0, rss: 0, startTime: TODAY_0905, ...extra
  }
}

const ROWS: ProcessInfo[] = [
  proc(10, { name: 'nginx', cmd: 'nginx: master process', user: 'root', cpuPercent: 2.5, rss: 10 * 1024 * 1024 }),
  proc(11, { name: 'nginx', cmd: 'nginx: worker process', user: 'www-data', cpuPercent: 12, rss: 30 * 1024 * 1024 }),
  proc(20, { name: 'postgres', cmd: '/usr/lib/postgresql/bin/postgres -D /data', user: 'postgres', cpuPercent: 40, rss: 512 * 1024 * 1024 }),
  proc(30, { name: 'bash', cmd: '-bash', user: 'Alice', cpuPercent: 0, rss: 4 * 1024 * 1024 }),
  proc(31, { name: 'python3', cmd: 'python3 train.py --epochs 10', user: 'alice', cpuPercent: 99.5, rss: 2 * 1024 ** 3 })
]

describe('selectProcesses', () => {
  const cases: Array<{ name: string, opts: Parameters<typeof selectProcesses>[1], pids: number[], matched: number }> = [
    { name: 'nothing asked: input order', opts: {}, pids: [10, 11, 20, 30, 31], matched: 5 },
    { name: 'sort by cpu', opts: { sort: { key: 'cpu' } }, pids: [31, 20, 11, 10, 30], matched: 5 },
    { name: 'sort by mem', opts: { sort: { key: 'mem' } }, pids: [31, 20, 11, 10, 30], matched: 5 },
    { name: 'sort by pid reversed', opts: { sort: { key: 'pid', reverse: true } }, pids: [31, 30, 20, 11, 10], matched: 5 },
    { name: 'sort by name', opts: { sort: { key: 'name' } }, pids: [30, 10, 11, 20, 31], matched: 5 },
    { name: 'limit after sort', opts: { sort: { key: 'cpu' }, limit: 2 }, pids: [31, 20], matched: 5 },
    { name: 'filter then sort then limit', opts: { filter: 'nginx', sort: { key: 'cpu' }, limit: 1 }, pids: [11], matched: 2 },
    { name: 'limit larger than the list', opts: { limit: 100 }, pids: [10, 11, 20, 30, 31], matched: 5 },
    { name: 'limit 0 keeps none', opts: { limit: 0 }, pids: [], matched: 5 }
  ]
  for (const c of cases) {
    it(c.name, () => {
      const s = selectProcesses(ROWS, c.opts)
      assert.deepEqual(s.processes.map(p => p.pid), c.pids)
      assert.equal(s.matched, c.matched)
      assert.equal(s.total, ROWS.length)
    })
  }
  it('--managed keeps only processes started through procmesh, after the filter', () => {
    const rows = [...ROWS, proc(40, { managedId: 'm1', name: 'api' }), proc(41, { managedId: 'm2', name: 'nginx' })]
    assert.deepEqual(selectProcesses(rows, { managed: true }).processes.map(p => p.pid), [40, 41])
    assert.deepEqual(selectProcesses(rows, { managed: true, filter: 'nginx' }).processes.map(p => p.pid), [41])
  })

  it('does not reorder its input', () => {
    selectProcesses(ROWS, { sort: { key: 'cpu' } })
    assert.deepEqual(ROWS.map(p => p.pid), [10, 11, 20, 30, 31])
  })
})

describe('managed processes', () => {
  const cases: Array<[Partial<ProcessInfo>, string, string]> = [
    [{}, '', '/usr/bin/p5 --flag'],
    [{ managedId: 'm-abc' }, '@m-abc', '@m-abc /usr/bin/p5 --flag'],
    // who started it is in ls and ps --json, not in every row (it was ~75 characters)
    [{ managedId: 'm-abc', startedBy: '12D3KooWQzj4mRkKs8gZzTy2bG2mJMbKZ5xN2qgKcTLdWhvVHeXG' }, '@m-abc', '@m-abc /usr/bin/p5 --flag'],
    [{ managedId: 'm-abc', managedName: 'api', startedBy: 'hostA' }, '@api', '@api /usr/bin/p5 --flag'],
    [{ cmd: '' }, '', 'p5'] // no command line: the name
  ]
  for (const [extra, mark, label] of cases) {
    it(JSON.stringify(extra), () => {
      assert.equal(managedMark(proc(5, extra)), mark)
      assert.equal(commandLabel(proc(5, extra)), label)
    })
  }
})

describe('truncate', () => {
  const cases: Array<[string, number | undefined, string]> = [
    ['hello world', undefined, 'hello world'],
    ['hello world', 0, 'hello world'],
    ['hello world', 11, 'hello world'],
    ['hello world', 6, 'hello…'],
    ['hello', 1, '…'],
    ['ab😀cd', 4, 'ab😀…'] // counts code points, never splits a surrogate pair
  ]
  for (const [text, width, expect] of cases) it(`${JSON.stringify(text)} at ${String(width)}`, () => { assert.equal(truncate(text, width), expect) })
})

describe('formatProcessTable', () => {
  it('formats the columns', () => {
    const text = formatProcessTable([ROWS[0], proc(31, { ...ROWS[4], startTime: EARLIER, managedId: 'job1', state: 'R' })], { now: NOW })
    assert.deepEqual(text.split('\n'), [
      'PID  USER   CPU%    RSS  STATE  START   COMMAND',
      ' 10  root    2.5  10.0M  S      09:05   nginx: master process',
      ' 31  alice  99.5   2.0G  R      Mar 03  @job1 python3 train.py --epochs 10'
    ])
  })

  it('cuts lines to the width, so only COMMAND shrinks', () => {
    const lines = formatProcessTable(ROWS, { now: NOW, width: 50 }).split('\n')
    for (const line of lines) assert.ok(Array.from(line).length <= 50, line)
    assert.equal(lines[3], ' 20  postgres  40.0   512M  S      09:05  /usr/li…')
  })

  it('prints the header alone for no rows', () => {
    assert.equal(formatProcessTable([], { now: NOW }), 'PID  USER  CPU%  RSS  STATE  START  COMMAND')
  })
})

describe('formatProcessTree', () => {
  const procs = [
    proc(1, { ppid: 0, user: 'root', name: 'init', cmd: '/sbin/init', cpuPercent: 1, rss: 1024 }),
    proc(2, { ppid: 1, name: 'sshd', cmd: 'sshd', cpuPercent: 2, rss: 2048 }),
    proc(3, { ppid: 2, name: 'bash', cmd: '-bash', cpuPercent: 3, rss: 4096 })
  ]
  it('shows prefixes and subtree totals for nodes with children', () => {
    const text = formatProcessTree(flattenTree(buildTree(procs), { sort: { key: 'pid' } }), { now: NOW })
    assert.deepEqual(text.split('\n'), [
      'PID  USER   CPU%   RSS  ΣCPU%  ΣRSS  STATE  START  COMMAND',
      '  1  root    1.0  1.0K    6.0  7.0K  S      09:05  /sbin/init',
      '  2  alice   2.0  2.0K    5.0  6.0K  S      09:05  └─ sshd',
      '  3  alice   3.0  4.0K               S      09:05    └─ -bash'
    ])
  })
  it('marks folded nodes', () => {
    const text = formatProcessTree(flattenTree(buildTree(procs), { folded: new Set([2]) }), { now: NOW })
    assert.match(text.split('\n')[2], /└─ \+ sshd$/)
    assert.equal(text.split('\n').length, 3)
  })
})

describe('peer headers and JSON', () => {
  const ok = { peerId: '12D3KooWAbCdEfGhIjKlMnOp', name: 'hostB', collectedAt: 1, processes: ROWS }
  it('names the peer, an id prefix and the count', () => {
    assert.equal(formatPeerHeader(ok), '== hostB (12D3KooWAbCdEfGh) — 5 processes ==')
    assert.equal(formatPeerHeader(ok, selectProcesses(ROWS, { limit: 2 })), '== hostB (12D3KooWAbCdEfGh) — 2 of 5 processes ==')
    assert.equal(formatPeerHeader(ok, selectProcesses(ROWS, { filter: 'postgres' })), '== hostB (12D3KooWAbCdEfGh) — 1 process ==')
  })
  it('shows a failed peer with its code', () => {
    assert.equal(formatPeerHeader({ peerId: 'x', name: 'hostC', error: { code: 'TIMEOUT', message: 'no answer in 10 s' } }), '== hostC == error: TIMEOUT no answer in 10 s')
  })
  it('projects exactly the contract fields', () => {
    assert.deepEqual(Object.keys(processJson(proc(1))), ['pid', 'ppid', 'user', 'name', 'cmd', 'state', 'cpuPercent', 'rss', 'startTime'])
    assert.deepEqual(Object.keys(processJson(proc(1, { managedId: 'a', startedBy: 'b' }))), ['pid', 'ppid', 'user', 'name', 'cmd', 'state', 'cpuPercent', 'rss', 'startTime', 'managedId'])
    assert.deepEqual(psEntryJson(ok, [ROWS[0]]), { peerId: ok.peerId, name: 'hostB', collectedAt: 1, processes: [processJson(ROWS[0])] })
    assert.deepEqual(psEntryJson({ peerId: 'x', name: 'c', error: { code: 'FORBIDDEN', message: 'm' } }), { peerId: 'x', name: 'c', error: { code: 'FORBIDDEN', message: 'm' } })
  })
})
