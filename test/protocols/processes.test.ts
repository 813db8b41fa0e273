import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  buildTree, compareNodes, compareProcesses, filterProcesses, flattenTree, isSortKey, matchesFilter, subtreePids,
  withAncestors, type ProcessNode, type SortKey
} from '../../protocols/processes.js'
import type { ProcessInfo } from '../../protocols/types.js'

function proc (pid: number, ppid: number, extra: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    pid, ppid, uid: 0, user: 'root', name: `p${pid}`, cmd: `/bin/p${pid}`, state: 'S',
    cpuPercent: 0, rss: 0, startTime: 1_700_000_000_000, ...extra
  }
}

/** `pid(child,child)` notation of a forest, children in their order. */
function shape (nodes: ProcessNode[]): string {
  return nodes.map(n => n.children.length === 0 ? String(n.process.pid) : `${n.process.pid}(${shape(n.children)})`).join(',')
}

describe('buildTree', () => {
  const cases: Array<{ name: string, input: ProcessInfo[], expect: string }> = [
    { name: 'empty list', input: [], expect: '' },
    { name: 'a single root', input: [proc(1, 0)], expect: '1' },
    { name: 'a chain', input: [proc(1, 0), proc(2, 1), proc(3, 2)], expect: '1(2(3))' },
    { name: 'children listed before their parent', input: [proc(3, 2), proc(2, 1), proc(1, 0)], expect: '1(2(3))' },
    { name: 'orphans (parent not in the list) are roots', input: [proc(1, 0), proc(10, 99), proc(11, 10), proc(12, 98)], expect: '1,10(11),12' },
    { name: 'a process that is its own parent is a root', input: [proc(5, 5), proc(6, 5)], expect: '5(6)' },
    { name: 'a two-cycle is cut at its lowest pid', input: [proc(8, 7), proc(7, 8)], expect: '7(8)' },
    { name: 'a three-cycle with a tail', input: [proc(20, 30), proc(30, 40), proc(40, 20), proc(41, 40)], expect: '20(40(30,41))' },
    { name: 'a cycle next to a normal tree', input: [proc(1, 0), proc(2, 1), proc(50, 51), proc(51, 50)], expect: '1(2),50(51)' },
    { name: 'a repeated pid keeps its first row', input: [proc(1, 0), proc(2, 1), proc(2, 0)], expect: '1(2)' },
    { name: 'siblings keep input order', input: [proc(1, 0), proc(9, 1), proc(3, 1), proc(5, 1)], expect: '1(9,3,5)' }
  ]
  for (const c of cases) {
    it(c.name, () => { assert.equal(shape(buildTree(c.input)), c.expect) })
  }

  it('every input process appears exactly once, even with cycles', () => {
    const input = [proc(1, 3), proc(2, 1), proc(3, 2), proc(4, 4), proc(5, 1), proc(6, 100)]
    const rows = flattenTree(buildTree(input))
    assert.deepEqual(rows.map(r => r.process.pid).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6])
  })

  it('totals CPU, RSS and count over each subtree, self included', () => {
    const roots = buildTree([
      proc(1, 0, { cpuPercent: 1, rss: 100 }),
      proc(2, 1, { cpuPercent: 2, rss: 200 }),
      proc(3, 2, { cpuPercent: 4, rss: 400 }),
      proc(4, 1, { cpuPercent: 8, rss: 800 })
    ])
    const [root] = roots
    assert.equal(root.subtreeCpu, 15)
    assert.equal(root.subtreeRss, 1500)
    assert.equal(root.subtreeCount, 4)
    const [two, four] = root.children
    assert.deepEqual([two.subtreeCpu, two.subtreeRss, two.subtreeCount], [6, 600, 2])
    assert.deepEqual([four.subtreeCpu, four.subtreeRss, four.subtreeCount], [8, 800, 1])
  })

  it('sets depths from the roots', () => {
    const rows = flattenTree(buildTree([proc(1, 0), proc(2, 1), proc(3, 2), proc(7, 99)]))
    assert.deepEqual(rows.map(r => [r.process.pid, r.depth]), [[1, 0], [2, 1], [3, 2], [7, 0]])
  })

  it('handles a chain deeper than the call stack would allow recursively', () => {
    const input = [proc(1, 0)]
    for (let pid = 2; pid <= 50_000; pid++) input.push(proc(pid, pid - 1, { rss: 1 }))
    const [root] = buildTree(input)
    assert.equal(root.subtreeCount, 50_000)
    assert.equal(root.subtreeRss, 49_999)
    assert.equal(flattenTree([root]).length, 50_000)
  })
})

describe('flattenTree', () => {
  //   1
  //   ├─ 2
  //   │ ├─ 4
  //   │ └─ 5
  //   └─ 3
  //     └─ 6
  const input = [proc(1, 0), proc(2, 1), proc(3, 1), proc(4, 2), proc(5, 2), proc(6, 3), proc(90, 0)]

  it('draws the tree prefixes', () => {
    const rows = flattenTree(buildTree(input), { sort: { key: 'pid' } })
    assert.deepEqual(rows.map(r => `${r.prefix}${r.process.pid}`), [
      '1',
      '├─2',
      '│ ├─4',
      '│ └─5',
      '└─3',
      '  └─6',
      '90'
    ])
  })

  it('marks nodes with children and hides the children of folded ones', () => {
    const rows = flattenTree(buildTree(input), { folded: new Set([2]), sort: { key: 'pid' } })
    assert.deepEqual(rows.map(r => [r.process.pid, r.hasChildren, r.folded]), [
      [1, true, false], [2, true, true], [3, true, false], [6, false, false], [90, false, false]
    ])
  })

  it('ignores folding of a leaf', () => {
    const rows = flattenTree(buildTree(input), { folded: new Set([4]), sort: { key: 'pid' } })
    assert.equal(rows.find(r => r.process.pid === 4)?.folded, false)
    assert.equal(rows.length, input.length)
  })

  it('folding a root leaves only the roots', () => {
    const rows = flattenTree(buildTree(input), { folded: new Set([1]) })
    assert.deepEqual(rows.map(r => r.process.pid), [1, 90])
  })

  const sorted: Array<{ key: SortKey, reverse?: boolean, expect: number[] }> = [
    // cpu sorts siblings by subtree CPU: 3's subtree (1 + 8) beats 2's (1 + 1 + 1); pid breaks ties
    { key: 'cpu', expect: [90, 1, 3, 6, 2, 4, 5] },
    { key: 'cpu', reverse: true, expect: [1, 2, 5, 4, 3, 6, 90] },
    { key: 'mem', expect: [1, 2, 4, 5, 3, 6, 90] },
    { key: 'pid', expect: [1, 2, 4, 5, 3, 6, 90] },
    { key: 'pid', reverse: true, expect: [90, 1, 3, 6, 2, 5, 4] },
    { key: 'name', expect: [90, 1, 3, 6, 2, 5, 4] }
  ]
  const weighted = [
    proc(1, 0, { cpuPercent: 0, rss: 10, name: 'init' }),
    proc(2, 1, { cpuPercent: 1, rss: 500, name: 'sshd' }),
    proc(3, 1, { cpuPercent: 1, rss: 10, name: 'cron' }),
    proc(4, 2, { cpuPercent: 1, rss: 100, name: 'zsh' }),
    proc(5, 2, { cpuPercent: 1, rss: 100, name: 'bash' }),
    proc(6, 3, { cpuPercent: 8, rss: 10, name: 'job' }),
    proc(90, 0, { cpuPercent: 50, rss: 1, name: 'Agent' })
  ]
  for (const c of sorted) {
    it(`sorts siblings by ${c.key}${c.reverse === true ? ' reversed' : ''}`, () => {
      const rows = flattenTree(buildTree(weighted), { sort: { key: c.key, reverse: c.reverse } })
      assert.deepEqual(rows.map(r => r.process.pid), c.expect)
    })
  }

  it('redraws prefixes for the sorted order', () => {
    const rows = flattenTree(buildTree(weighted), { sort: { key: 'cpu' } })
    assert.deepEqual(rows.map(r => r.prefix), ['', '', '├─', '│ └─', '└─', '  ├─', '  └─'])
  })

  it('does not reorder the built tree', () => {
    const roots = buildTree(weighted)
    flattenTree(roots, { sort: { key: 'cpu' } })
    assert.equal(shape(roots), '1(2(4,5),3(6)),90')
  })
})

describe('comparators', () => {
  const a = proc(10, 1, { cpuPercent: 5, rss: 100, name: 'beta' })
  const b = proc(20, 1, { cpuPercent: 9, rss: 50, name: 'Alpha' })
  const c = proc(30, 1, { cpuPercent: 5, rss: 100, name: 'alpha' })
  const order = (key: SortKey, reverse = false): number[] => [a, b, c].sort(compareProcesses(key, reverse)).map(p => p.pid)
  const cases: Array<[SortKey, boolean, number[]]> = [
    ['cpu', false, [20, 10, 30]], // descending, pid breaks the tie
    ['cpu', true, [30, 10, 20]],
    ['mem', false, [10, 30, 20]],
    ['mem', true, [20, 30, 10]],
    ['pid', false, [10, 20, 30]],
    ['pid', true, [30, 20, 10]],
    ['name', false, [20, 30, 10]], // case-insensitive, then case, then pid
    ['name', true, [10, 30, 20]]
  ]
  for (const [key, reverse, expect] of cases) {
    it(`${key}${reverse ? ' reversed' : ''}`, () => { assert.deepEqual(order(key, reverse), expect) })
  }

  it('compareNodes uses subtree totals for cpu and mem', () => {
    const [root] = buildTree([proc(1, 0), proc(2, 1, { cpuPercent: 1, rss: 10 }), proc(3, 1, { cpuPercent: 2 }), proc(4, 2, { cpuPercent: 5, rss: 1 })])
    const cmp = compareNodes('cpu')
    assert.deepEqual([...root.children].sort(cmp).map(n => n.process.pid), [2, 3])
    assert.deepEqual([...root.children].sort(compareNodes('mem')).map(n => n.process.pid), [2, 3])
  })

  it('isSortKey', () => {
    for (const k of ['cpu', 'mem', 'pid', 'name']) assert.equal(isSortKey(k), true)
    for (const k of ['CPU', 'rss', '', undefined, 1]) assert.equal(isSortKey(k), false)
  })
})

describe('subtreePids', () => {
  it('lists the root first, then its descendants depth-first', () => {
    const [root] = buildTree([proc(1, 0), proc(2, 1), proc(3, 1), proc(4, 2)])
    assert.deepEqual(subtreePids(root), [1, 2, 4, 3])
    assert.deepEqual(subtreePids(root.children[1]), [3])
  })
})

function user (pid: number, name: string, cmd: string, owner: string, ppid = 1): ProcessInfo {
  return proc(pid, ppid, { name, cmd, user: owner })
}

const ROWS: ProcessInfo[] = [
  user(10, 'nginx', 'nginx: master process', 'root'),
  user(11, 'nginx', 'nginx: worker process', 'www-data', 10),
  user(20, 'postgres', '/usr/lib/postgresql/bin/postgres -D /data', 'postgres'),
  user(30, 'bash', '-bash', 'Alice'),
  user(31, 'python3', 'python3 train.py --epochs 10', 'alice', 30)
]

describe('the process filter', () => {
  const cases: Array<[string, number[]]> = [
    ['', [10, 11, 20, 30, 31]],
    ['nginx', [10, 11]], // name
    ['NGINX', [10, 11]], // case-insensitive
    ['worker', [11]], // cmd only
    ['www-data', [11]], // user
    ['alice', [30, 31]], // user, either case
    ['train.py', [31]],
    ['nothing-like-this', []]
  ]
  for (const [text, pids] of cases) {
    it(`${JSON.stringify(text)} -> ${pids.join(',') || 'none'}`, () => {
      assert.deepEqual(filterProcesses(ROWS, text).map(p => p.pid), pids)
      assert.deepEqual(ROWS.filter(p => matchesFilter(p, text)).map(p => p.pid), pids)
    })
  }
  it('no filter keeps everything', () => { assert.equal(filterProcesses(ROWS, undefined).length, ROWS.length) })
})

describe('withAncestors', () => {
  it('keeps each match and its parent chain, in input order', () => {
    assert.deepEqual(withAncestors(ROWS, 'train').map(p => p.pid), [30, 31])
    assert.deepEqual(withAncestors(ROWS, 'worker').map(p => p.pid), [10, 11])
  })
  it('stops at a parent cycle', () => {
    const cycle = [proc(7, 8, { name: 'x' }), proc(8, 7, { name: 'y' })]
    assert.deepEqual(withAncestors(cycle, 'x').map(p => p.pid), [7, 8])
  })
})
