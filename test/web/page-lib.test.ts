/**
 * The browser's pure helpers, run in node:vm: the tree port must agree with
 * protocols/processes.ts (the CLI and TUI's), and the page's scripts must parse.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Script, createContext, runInContext } from 'node:vm'
import type { ProcessInfo } from '../../protocols/types.js'
import { buildTree, flattenTree, type ProcessNode, type SortKey } from '../../protocols/processes.js'
import { PAGE_APP_JS } from '../../cli/web/page-app.js'
import { PAGE_LIB_JS } from '../../cli/web/page-lib.js'
import { PAGE_HTML, PAGE_JS, STATIC_ASSETS } from '../../cli/web/page.js'

interface PageNode { process: ProcessInfo, children: PageNode[], depth: number, subtreeCpu: number, subtreeRss: number, subtreeCount: number }
interface PageRow { process: ProcessInfo, depth: number, hasChildren: boolean, folded: boolean }
interface PageLib {
  SORT_KEYS: string[]
  processKey: (p: ProcessInfo) => string
  buildTree: (ps: ProcessInfo[]) => PageNode[]
  flattenTree: (roots: PageNode[], opts: { folded?: Set<string>, sort?: { key: string, reverse?: boolean } }) => PageRow[]
  parentKeys: (roots: PageNode[]) => string[]
  ancestorKeys: (ps: ProcessInfo[], pid: number) => string[]
  matchesFilter: (p: ProcessInfo, text: string) => boolean
  formatBytes: (n: number) => string
  formatStart: (ms: number, now: number) => string
  splitArgs: (text: string) => string[]
  parseEnvLines: (text: string) => Record<string, string> | undefined
  sseParser: (onEvent: (e: { event: string, data: string, id: string }) => void) => { push: (text: string) => void }
  sparkPoints: (values: number[], width: number, height: number, max: number) => string
}

function loadLib (): PageLib {
  const context = createContext({})
  // the lib defines PM with var at the top of a classic script: a global of the context
  runInContext(PAGE_LIB_JS + '\n;globalThis.__pm = PM', context)
  return (context as { __pm: PageLib }).__pm
}

const PM = loadLib()

/** Values made in the vm's realm have its Array and Object: compare them as plain data. */
function plain<T> (value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

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

function shapeOfCli (nodes: readonly ProcessNode[]): unknown[] {
  return nodes.map(n => [n.process.pid, n.depth, n.subtreeCount, Math.round(n.subtreeCpu * 1000), n.subtreeRss, shapeOfCli(n.children)])
}
function shapeOfPage (nodes: readonly PageNode[]): unknown[] {
  return plain(nodes.map(n => [n.process.pid, n.depth, n.subtreeCount, Math.round(n.subtreeCpu * 1000), n.subtreeRss, shapeOfPage(n.children)]))
}

describe('web page: the tree agrees with protocols/processes.ts', () => {
  it('on a simple tree, with totals', () => {
    const ps = [proc(1, 0), proc(2, 1), proc(3, 2), proc(4, 1), proc(9, 99)]
    const roots = PM.buildTree(ps)
    assert.deepEqual(shapeOfPage(roots), shapeOfCli(buildTree(ps)))
    assert.equal(roots[0].subtreeCount, 4)
  })

  for (let seed = 1; seed <= 40; seed++) {
    it(`on random lists with cycles and duplicates (seed ${seed})`, () => {
      const ps = randomProcesses(seed, 5 + seed * 3)
      const pageRoots = PM.buildTree(ps)
      const cliRoots = buildTree(ps)
      assert.deepEqual(shapeOfPage(pageRoots), shapeOfCli(cliRoots))
      // the page's Σ columns sort like the CLI's tree sorts cpu and mem (by subtree totals)
      const keys: Array<[string, SortKey]> = [['pid', 'pid'], ['name', 'name'], ['scpu', 'cpu'], ['smem', 'mem']]
      for (const [pageKey, cliKey] of keys) {
        for (const reverse of [false, true]) {
          const page = plain(PM.flattenTree(pageRoots, { sort: { key: pageKey, reverse } }).map(r => [r.process.pid, r.depth]))
          const cli = flattenTree(cliRoots, { sort: { key: cliKey, reverse } }).map(r => [r.process.pid, r.depth])
          assert.deepEqual(page, cli, `${pageKey} reverse=${String(reverse)}`)
        }
      }
      const visible = ps.filter((p, i) => ps.findIndex(q => q.pid === p.pid) === i).length
      assert.equal(PM.flattenTree(pageRoots, {}).length, visible, 'every process appears exactly once')
    })
  }

  it('folds by pid and start time', () => {
    const ps = [proc(1, 0), proc(2, 1), proc(3, 2), proc(4, 1)]
    const roots = PM.buildTree(ps)
    const folded = new Set([PM.processKey(ps[1])])
    const rows = PM.flattenTree(roots, { folded, sort: { key: 'pid' } })
    assert.deepEqual(plain(rows.map(r => r.process.pid)), [1, 2, 4])
    assert.equal(rows[1].folded, true)
    assert.deepEqual(plain(PM.parentKeys(roots).sort()), [PM.processKey(ps[0]), PM.processKey(ps[1])].sort())
    assert.deepEqual(plain(PM.ancestorKeys(ps, 3)), [PM.processKey(ps[1]), PM.processKey(ps[0])])
  })

  it('sorts by the other columns with pid breaking ties', () => {
    const ps = [proc(3, 0, { user: 'bob', state: 'R', startTime: 30 }), proc(1, 0, { user: 'alice', state: 'S', startTime: 20 }), proc(2, 0, { user: 'alice', state: 'S', startTime: 10 })]
    const order = (key: string, reverse = false): number[] => plain(PM.flattenTree(PM.buildTree(ps), { sort: { key, reverse } }).map(r => r.process.pid))
    assert.deepEqual(order('user'), [1, 2, 3])
    assert.deepEqual(order('state'), [3, 1, 2])
    assert.deepEqual(order('start'), [2, 1, 3])
    assert.deepEqual(order('start', true), [3, 1, 2])
  })
})

describe('web page: helpers', () => {
  it('filters like the CLI: name, command or user, case-insensitive', () => {
    const p = proc(5, 1, { name: 'nginx', cmd: 'nginx: worker', user: 'www-data' })
    for (const text of ['NGINX', 'worker', 'www', '', '  ']) assert.equal(PM.matchesFilter(p, text), true, text)
    assert.equal(PM.matchesFilter(p, 'apache'), false)
  })

  it('splits command lines without a shell', () => {
    const table: Array<[string, string[]]> = [
      ['sleep 600', ['sleep', '600']],
      ['  a   b  ', ['a', 'b']],
      ["echo 'a b' \"c d\"", ['echo', 'a b', 'c d']],
      ["echo '$HOME' \"$(id)\" ;|&", ['echo', '$HOME', '$(id)', ';|&']],
      ['a\\ b c', ['a b', 'c']],
      ['say "he said \\"hi\\""', ['say', 'he said "hi"']],
      ["''", ['']],
      ['', []]
    ]
    for (const [text, argv] of table) assert.deepEqual(plain(PM.splitArgs(text)), argv, text)
    assert.throws(() => PM.splitArgs('echo "open'), /unclosed double quote/)
    assert.throws(() => PM.splitArgs("echo 'open"), /unclosed single quote/)
  })

  it('parses environment lines', () => {
    assert.deepEqual(plain(PM.parseEnvLines('A=1\n\nB=x=y\r\n')), { A: '1', B: 'x=y' })
    assert.equal(PM.parseEnvLines(' \n'), undefined)
    assert.throws(() => PM.parseEnvLines('A=1\nnope'), /env line 2: expected KEY=VALUE/)
  })

  it('parses event streams split anywhere', () => {
    const text = 'retry: 2000\n\n: keepalive\n\nid: 1\nevent: snapshot\ndata: {"a":1}\n\nevent: x\r\ndata: l1\r\ndata: l2\r\n\r\n'
    for (let cut = 0; cut <= text.length; cut++) {
      const got: Array<{ event: string, data: string, id: string }> = []
      const parser = PM.sseParser(e => { got.push({ event: e.event, data: e.data, id: e.id }) })
      parser.push(text.slice(0, cut))
      parser.push(text.slice(cut))
      assert.deepEqual(got, [{ event: 'snapshot', data: '{"a":1}', id: '1' }, { event: 'x', data: 'l1\nl2', id: '1' }], `cut at ${cut}`)
    }
  })

  it('formats like the CLI', () => {
    assert.equal(PM.formatBytes(0), '0B')
    assert.equal(PM.formatBytes(1536), '1.5K')
    assert.equal(PM.formatBytes(200 * 1024 * 1024), '200M')
    assert.equal(PM.formatBytes(-1), '-')
    const now = new Date(2026, 0, 15, 12, 0).getTime()
    assert.equal(PM.formatStart(new Date(2026, 0, 15, 9, 5).getTime(), now), '09:05')
    assert.equal(PM.formatStart(new Date(2026, 0, 3, 9, 5).getTime(), now), 'Jan 03')
  })

  it('draws sparklines inside their box', () => {
    assert.equal(PM.sparkPoints([], 100, 24, 100), '')
    assert.equal(PM.sparkPoints([50], 100, 24, 100), '100.0,12.0')
    assert.equal(PM.sparkPoints([0, 100, 250], 100, 24, 100), '0.0,24.0 50.0,0.0 100.0,0.0')
  })
})

describe('web page: static files', () => {
  it('the scripts parse, and hold no template leftovers', () => {
    assert.doesNotThrow(() => new Script(PAGE_APP_JS, { filename: 'app.js' }))
    assert.doesNotThrow(() => new Script(PAGE_JS, { filename: 'app.js' }))
    for (const text of [PAGE_JS, PAGE_HTML]) assert.ok(!text.includes('${'), 'no unexpanded ${')
  })
  it('the page names every element the script looks up', () => {
    const ids = new Set([...PAGE_HTML.matchAll(/id="([^"]+)"/g)].map(m => m[1]))
    const wanted = new Set([...PAGE_APP_JS.matchAll(/\$\('([^']+)'\)/g)].map(m => m[1]))
    const missing = [...wanted].filter(id => !ids.has(id))
    assert.deepEqual(missing, [])
  })
  it('has no inline script or style (the CSP forbids them)', () => {
    assert.ok(!/<script(?![^>]*\bsrc=)/.test(PAGE_HTML), 'every script has a src')
    assert.ok(!/\sstyle=/.test(PAGE_HTML), 'no style attributes')
    assert.ok(!/\son[a-z]+=/.test(PAGE_HTML), 'no inline event handlers')
    assert.ok(!PAGE_JS.includes('innerHTML'), 'mesh text never becomes HTML')
  })
  it('serves exactly the page, its script, its style and an icon', () => {
    assert.deepEqual([...STATIC_ASSETS.keys()].sort(), ['/', '/app.css', '/app.js', '/favicon.svg', '/index.html'])
  })
})
