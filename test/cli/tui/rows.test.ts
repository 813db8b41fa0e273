import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { compareProcesses, matchesFilter, type SortKey } from '../../../protocols/processes.js'
import { buildRows, matches, parentChain, selectRowsFor, type RowInputs } from '../../../cli/tui/rows.js'
import type { HostProcs } from '../../../cli/tui/state.js'
import type { ProcessInfo } from '../../../protocols/types.js'
import { T0, proc, sampleProcesses } from './fixtures.js'

function randomHost (name: string, seed: number, n: number): HostProcs {
  let s = seed
  const r = (k: number): number => { s = (s * 1103515245 + 12345) % 2 ** 31; return Math.floor(s / 65536) % k }
  const names = ['Nginx', 'nginx', 'bash', 'Bash', 'zsh', 'a', 'b']
  const processes: ProcessInfo[] = Array.from({ length: n }, (_, i) => proc(i + 2, r(3) === 0 ? 1 : Math.max(1, r(i + 2)), names[r(names.length)], {
    cpuPercent: r(4) * 2.5, rss: r(5) * 1024, user: r(2) === 0 ? 'root' : 'Alice', cmd: `cmd-${r(50)}`
  }))
  return { peerId: `id-${name}`, name, receivedAt: T0, processes }
}

function inputs (over: Partial<RowInputs> = {}): RowInputs {
  const a = randomHost('alpha', 1, 300)
  const b = randomHost('beta', 2, 300)
  return { procs: { [a.peerId]: a, [b.peerId]: b }, hostIds: [a.peerId, b.peerId], filter: '', sort: 'cpu', reverse: false, tree: false, folded: {}, managedOnly: false, managed: {}, ...over }
}

describe('rows', () => {
  for (const key of ['cpu', 'mem', 'pid', 'name'] as SortKey[]) {
    for (const reverse of [false, true]) {
      it(`flat ${key}${reverse ? ' reversed' : ''} is compareProcesses' order, then the host`, () => {
        const input = inputs({ sort: key, reverse })
        const got = buildRows(input).map(r => `${r.hostName}:${r.proc.pid}`)
        const cmp = compareProcesses(key, reverse)
        const want = input.hostIds.flatMap(id => input.procs[id].processes.map(p => ({ p, host: input.procs[id].name })))
          .sort((x, y) => cmp(x.p, y.p) || (x.host < y.host ? -1 : x.host > y.host ? 1 : 0))
          .map(x => `${x.host}:${x.p.pid}`)
        assert.deepEqual(got, want)
      })
    }
  }

  it('matches agrees with the shared matchesFilter', () => {
    const ps = [...randomHost('x', 3, 200).processes, proc(9, 1, 'Ünïcode', { cmd: 'ÄBC', user: 'Zoë' })]
    for (const filter of ['', 'n', 'NGI', 'alice', 'cmd-1', 'zoë', 'äb', 'nomatch']) {
      for (const p of ps) assert.equal(matches(p, filter.toLowerCase()), matchesFilter(p, filter), `${filter} on ${p.name}/${p.cmd}/${p.user}`)
    }
  })

  it('memoises on its inputs', () => {
    const input = inputs()
    const first = selectRowsFor(input)
    assert.equal(selectRowsFor({ ...input, hostIds: [...input.hostIds] }), first, 'equal host lists count as the same')
    assert.notEqual(selectRowsFor({ ...input, filter: 'a' }), first)
  })

  it('parentChain walks up and stops at a cycle', () => {
    assert.deepEqual(parentChain(sampleProcesses(), 12).map(p => p.pid), [11, 10, 1])
    const cyclic = [proc(5, 6, 'a'), proc(6, 5, 'b')]
    assert.deepEqual(parentChain(cyclic, 5).map(p => p.pid), [6])
  })
})
