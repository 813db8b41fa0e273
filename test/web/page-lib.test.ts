/**
 * The dashboard's pure helpers (cli/web/page-lib.ts, shared with the browser bundle),
 * the column sort it takes from protocols/processes.ts, and the served script itself:
 * bundled from cli/web/page/ by build/page.mjs, a classic script that parses, looks up
 * only elements the page has and never writes HTML.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Script } from 'node:vm'
import type { ProcessInfo } from '../../protocols/types.js'
import { buildTree, compareColumn, compareNodes, flattenTree, type ColumnKey, type SortKey } from '../../protocols/processes.js'
import { SIGNALS } from '../../protocols/signals.js'
import {
  alertLevel, alertText, ancestorKeys, chartPath, columnsToHide, findNode, fullestDisk, worstAlert, foldedPids, gapThreshold, hostStatusClass, hostStatusText, nearestPoint, parentKeys, parseEnvLines, parseLocalDateTime, processKey,
  sparkPoints, sseParser, toLocalDateTime, type SseMessage
} from '../../cli/web/page-lib.js'
import { PAGE_HTML, loadStaticAssets } from '../../cli/web/page.js'
import { PAGE_JS } from '../../cli/web/page-script.js'

function proc (pid: number, ppid: number, extra: Partial<ProcessInfo> = {}): ProcessInfo {
  return { pid, ppid, uid: 0, user: 'root', name: `p${pid}`, cmd: `p${pid} --x`, state: 'S', cpuPercent: (pid * 7) % 13, rss: ((pid * 31) % 17) * 1024, startTime: 1_700_000_000_000 + pid, ...extra }
}

/** A deterministic pseudo-random process list with orphans, self-parents, duplicates and cycles. */
function randomProcesses (seed: number, n: number): ProcessInfo[] {
  let s = seed
  const rnd = (k: number): number => { s = (s * 1103515245 + 12345) % 2147483648; return s % k }
  const list: ProcessInfo[] = []
  for (let i = 0; i < n; i++) {
    const pid = 1 + rnd(n * 2)
    const ppid = rnd(5) === 0 ? pid : rnd(n * 2 + 3)
    list.push(proc(pid, ppid, { name: ['sh', 'bash', 'node', 'Sleep', 'sleep'][rnd(5)], cpuPercent: rnd(4) * 0.5, rss: rnd(6) * 4096 }))
  }
  return list
}

describe('web page: the tree, folding and column sort', () => {
  it('the subtree columns sort a tree like the CLI sorts cpu and mem (by subtree totals)', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const ps = randomProcesses(seed, 5 + seed * 3)
      const roots = buildTree(ps)
      const pairs: Array<[ColumnKey, SortKey]> = [['pid', 'pid'], ['name', 'name'], ['scpu', 'cpu'], ['smem', 'mem']]
      for (const [column, key] of pairs) {
        for (const reverse of [false, true]) {
          const page = flattenTree(roots, { compare: compareColumn(column, reverse) }).map(r => [r.process.pid, r.depth])
          const cli = flattenTree(roots, { sort: { key, reverse } }).map(r => [r.process.pid, r.depth])
          assert.deepEqual(page, cli, `seed ${seed} ${column} reverse=${String(reverse)}`)
        }
      }
      assert.equal(compareNodes('pid')(roots[0], roots[0]), 0)
    }
  })

  it('cpu and mem columns sort by the process\'s own figures, the others ascending, pid breaking ties', () => {
    const ps = [proc(3, 0, { user: 'bob', state: 'R', startTime: 30, cpuPercent: 1 }), proc(1, 0, { user: 'alice', state: 'S', startTime: 20, cpuPercent: 5 }), proc(2, 0, { user: 'alice', state: 'S', startTime: 10, cpuPercent: 5 })]
    const order = (key: ColumnKey, reverse = false): number[] => flattenTree(buildTree(ps), { compare: compareColumn(key, reverse) }).map(r => r.process.pid)
    assert.deepEqual(order('user'), [1, 2, 3])
    assert.deepEqual(order('state'), [3, 1, 2])
    assert.deepEqual(order('start'), [2, 1, 3])
    assert.deepEqual(order('start', true), [3, 1, 2])
    assert.deepEqual(order('cpu'), [1, 2, 3])
    // a parent with a busy child: cpu is its own figure, scpu its subtree's
    const tree = [proc(10, 0, { cpuPercent: 1 }), proc(11, 10, { cpuPercent: 50 }), proc(20, 0, { cpuPercent: 2 })]
    const roots = (key: ColumnKey): number[] => flattenTree(buildTree(tree), { compare: compareColumn(key) }).filter(r => r.depth === 0).map(r => r.process.pid)
    assert.deepEqual(roots('cpu'), [20, 10])
    assert.deepEqual(roots('scpu'), [10, 20])
  })

  it('folds by pid and start time: a reused pid does not inherit a fold', () => {
    const ps = [proc(1, 0), proc(2, 1), proc(3, 2), proc(4, 1)]
    const folded = new Set([processKey(ps[1])])
    const rows = flattenTree(buildTree(ps), { folded: foldedPids(ps, folded), compare: compareColumn('pid') })
    assert.deepEqual(rows.map(r => r.process.pid), [1, 2, 4])
    assert.equal(rows[1].folded, true)
    const reused = [proc(1, 0), proc(2, 1, { startTime: 5 }), proc(3, 2)]
    assert.deepEqual([...foldedPids(reused, folded)], [])
    assert.deepEqual(parentKeys(ps).sort(), [processKey(ps[0]), processKey(ps[1])].sort())
    assert.deepEqual(ancestorKeys(ps, 3), [processKey(ps[1]), processKey(ps[0])])
    assert.deepEqual(ancestorKeys([proc(5, 6), proc(6, 5)], 5), [processKey(proc(6, 5))], 'a parent cycle ends the walk')
    assert.equal(findNode(ps, 2)?.subtreeCount, 2)
    assert.equal(findNode(ps, 99), undefined)
  })
})

describe('web page: helpers', () => {
  it('parses environment lines', () => {
    assert.deepEqual(parseEnvLines('A=1\n\nB=x=y\r\n'), { A: '1', B: 'x=y' })
    assert.equal(parseEnvLines(' \n'), undefined)
    assert.throws(() => parseEnvLines('A=1\nnope'), /env line 2: expected KEY=VALUE/)
  })

  it('parses event streams split anywhere', () => {
    const text = 'retry: 2000\n\n: keepalive\n\nid: 1\nevent: snapshot\ndata: {"a":1}\n\nevent: x\r\ndata: l1\r\ndata: l2\r\n\r\n'
    for (let cut = 0; cut <= text.length; cut++) {
      const got: SseMessage[] = []
      const parser = sseParser(e => { got.push(e) })
      parser.push(text.slice(0, cut))
      parser.push(text.slice(cut))
      assert.deepEqual(got, [{ event: 'snapshot', data: '{"a":1}', id: '1' }, { event: 'x', data: 'l1\nl2', id: '1' }], `cut at ${cut}`)
    }
  })

  it('draws sparklines inside their box', () => {
    assert.equal(sparkPoints([], 100, 24, 100), '')
    assert.equal(sparkPoints([50], 100, 24, 100), '100.0,12.0')
    assert.equal(sparkPoints([0, 100, 250], 100, 24, 100), '0.0,24.0 50.0,0.0 100.0,0.0')
  })

  it('says how an online host is reached', () => {
    assert.equal(hostStatusText({ status: 'online', self: false, reach: 'relayed' }), 'online · relayed')
    assert.equal(hostStatusText({ status: 'online', self: false, reach: 'unreachable' }), 'online · unreachable from this node')
    assert.equal(hostStatusText({ status: 'online', self: true, reach: 'unreachable' }), 'online')
    assert.equal(hostStatusText({ status: 'stale', self: false }), 'stale')
    assert.equal(hostStatusClass({ status: 'online', self: false, reach: 'unreachable' }), 'unreachable')
    assert.equal(hostStatusClass({ status: 'offline', self: false, reach: 'unreachable' }), 'offline')
  })
})

describe('web page: the history chart', () => {
  it('places points by time on the box and breaks the line at gaps', () => {
    const pts = [{ at: 0, value: 0 }, { at: 10, value: 50 }, { at: 20, value: 100 }, { at: 90, value: 200 }]
    assert.equal(chartPath(pts, 0, 100, 1000, 100, 100, 30), 'M0.0,100.0 L100.0,50.0 L200.0,0.0 M900.0,0.0')
    assert.equal(chartPath([], 0, 100, 1000, 100, 100, 30), '')
    assert.equal(gapThreshold(2000), 10_000)
    assert.equal(gapThreshold(60_000), 180_000)
  })

  it('picks the point nearest a time', () => {
    const pts = [{ at: 10 }, { at: 20 }, { at: 40 }]
    assert.equal(nearestPoint(pts, 0), 0)
    assert.equal(nearestPoint(pts, 31), 2)
    assert.equal(nearestPoint(pts, 16), 1)
    assert.equal(nearestPoint([], 5), -1)
  })

  it('reads and writes datetime-local values in local time', () => {
    const at = new Date(2026, 10, 29, 3, 10).getTime()
    assert.equal(parseLocalDateTime('2026-11-29T03:10'), at)
    assert.equal(toLocalDateTime(at), '2026-11-29T03:10')
    assert.equal(parseLocalDateTime(''), undefined)
    assert.equal(parseLocalDateTime('29.11.2026'), undefined)
  })
})

describe('web page: static files', () => {
  it('the bundled script is one classic script that parses and leaks no global', () => {
    assert.doesNotThrow(() => new Script(PAGE_JS, { filename: 'app.js' }))
    assert.match(PAGE_JS, /^"use strict";\n\(\(\) => \{/, 'an IIFE')
    assert.ok(!PAGE_HTML.includes('${'), 'no unexpanded ${ in the page')
  })

  it('carries the shared code, not copies: the signal list and the CLI\'s argv splitter', () => {
    assert.ok(PAGE_JS.includes('// protocols/signals.ts'), 'the signal list is protocols/signals.ts')
    for (const s of SIGNALS) assert.ok(PAGE_JS.includes(`"${s}"`), s)
    assert.ok(PAGE_JS.includes('// cli/tui/argv.ts'), 'the argv splitter is the TUI\'s')
    assert.ok(PAGE_JS.includes('// protocols/processes.ts'), 'the tree is protocols/processes.ts')
  })

  it('the page names every element the script looks up', () => {
    const ids = new Set([...PAGE_HTML.matchAll(/id="([^"]+)"/g)].map(m => m[1]))
    const wanted = new Set([...PAGE_JS.matchAll(/byId\("([^"]+)"/g)].map(m => m[1]))
    assert.ok(wanted.size > 20, `the script looks up its elements by id (${wanted.size})`)
    assert.deepEqual([...wanted].filter(id => !ids.has(id)), [])
  })

  it('has no inline script or style (the CSP forbids them)', () => {
    assert.ok(!/<script(?![^>]*\bsrc=)/.test(PAGE_HTML), 'every script has a src')
    assert.ok(!/\sstyle=/.test(PAGE_HTML), 'no style attributes')
    assert.ok(!/\son[a-z]+=/.test(PAGE_HTML), 'no inline event handlers')
    assert.ok(!PAGE_JS.includes('innerHTML') && !PAGE_JS.includes('insertAdjacentHTML') && !PAGE_JS.includes('outerHTML'), 'mesh text never becomes HTML')
    assert.ok(!/\beval\(|new Function\(/.test(PAGE_JS), 'no eval')
  })

  it('serves exactly the page, its script, its style and an icon', async () => {
    const assets = await loadStaticAssets()
    assert.deepEqual([...assets.keys()].sort(), ['/', '/app.css', '/app.js', '/favicon.svg', '/index.html'])
    assert.equal(assets.get('/app.js')?.body, PAGE_JS)
  })
})

describe('process table columns by width', () => {
  const columns = [{ key: 'pid', width: 70 }, { key: 'user', width: 100 }, { key: 'state', width: 60 }, { key: 'start', width: 90 }]
  const order = ['user', 'start', 'state']

  it('hides nothing when the command keeps its minimum', () => {
    assert.deepEqual([...columnsToHide(320 + 200, columns, order, 200)], [])
  })

  it('drops the least useful columns first, only as many as needed', () => {
    assert.deepEqual([...columnsToHide(320 + 199, columns, order, 200)], ['user'])
    assert.deepEqual([...columnsToHide(400, columns, order, 200)], ['user', 'start'])
  })

  it('never drops a column outside the order, even when it still does not fit', () => {
    assert.deepEqual([...columnsToHide(100, columns, order, 200)].sort(), ['start', 'state', 'user'])
  })
})

describe('host alerts as the node gave them', () => {
  const alerts = [
    { metric: 'mem' as const, level: 'critical' as const, value: 93.1 },
    { metric: 'disk' as const, mount: '/var', level: 'careful' as const, value: 55 },
    { metric: 'disk' as const, mount: '/', level: 'warning' as const, value: 75 },
    { metric: 'load' as const, level: 'careful' as const, value: 0.8 }
  ]

  it('finds the level of a figure, per mount for disks, and the worst', () => {
    assert.equal(alertLevel(alerts, 'mem'), 'critical')
    assert.equal(alertLevel(alerts, 'cpu'), undefined)
    assert.equal(alertLevel(alerts, 'disk', '/var'), 'careful')
    assert.equal(alertLevel(alerts, 'disk'), 'warning')
    assert.equal(alertLevel(undefined, 'mem'), undefined)
    assert.equal(worstAlert(alerts), 'critical')
    assert.equal(worstAlert([]), undefined)
  })

  it('says each alert in a few words', () => {
    assert.deepEqual(alerts.map(alertText), ['mem 93.1% critical', 'disk /var 55% careful', 'disk / 75% warning', 'load 0.8/core careful'])
  })

  it('picks the fullest disk by df\'s Use%', () => {
    const disks = [{ mount: '/', used: 50, avail: 50 }, { mount: '/data', used: 90, avail: 10 }, { mount: '/empty', used: 0, avail: 0 }]
    assert.deepEqual(fullestDisk(disks), { disk: disks[1], percent: 90 })
    assert.equal(fullestDisk([]), undefined)
  })
})
