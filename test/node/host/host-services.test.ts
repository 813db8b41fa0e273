import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { HistoryRing } from '../../../node/host/history.js'
import { HostServices, type ManagedMark, type ProcessControl } from '../../../node/host/host-services.js'
import { SharedSampler } from '../../../node/host/sampler.js'
import { ProcmeshError } from '../../../protocols/errors.js'
import { LIST } from '../../../protocols/messages.js'
import type { ProcessInfo, Snapshot } from '../../../protocols/types.js'

const T0 = 1_700_000_000_000

function proc (pid: number, name: string, cmd: string, user: string, startTime = T0): ProcessInfo {
  return { pid, ppid: 1, uid: 1000, user, name, cmd, state: 'S', cpuPercent: 0, rss: 0, startTime }
}

const PROCESSES: ProcessInfo[] = [
  proc(10, 'nginx', 'nginx: worker process', 'www-data'),
  proc(20, 'bash', '-bash', 'alice'),
  proc(21, 'python3', 'python3 train.py', 'Alice'),
  proc(30, 'sleep', 'sleep 600', 'bob', T0 + 5)
]

function services (managed: Map<number, ManagedMark> = new Map()): HostServices {
  const snapshot: Snapshot = {
    collectedAt: Date.now(),
    host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 1, cpuPercent: 0, load: [0, 0, 0], memTotal: 1, memUsed: 1, uptime: 1 },
    processes: PROCESSES
  }
  const refuse = async (): Promise<never> => { throw new ProcmeshError('REFUSED', 'not in this test') }
  const control: ProcessControl = { start: refuse, stop: refuse, logs: refuse, managed: () => [], restart: refuse, remove: refuse, managedByPid: () => managed }
  return new HostServices({
    sampler: new SharedSampler({ sample: async () => snapshot }),
    history: new HistoryRing(2000),
    control,
    nameOf: id => id === 'peer-b' ? 'hostB' : undefined
  })
}

describe('HostServices.list', () => {
  it('filters by user too, as every view does (procmesh ps --filter alice)', async () => {
    const { processes } = await services().list({ type: 'list', filter: 'alice' })
    assert.deepEqual(processes.map(p => p.pid), [20, 21])
  })

  it('filters by name and command line, in any case', async () => {
    assert.deepEqual((await services().list({ type: 'list', filter: 'NGINX' })).processes.map(p => p.pid), [10])
    assert.deepEqual((await services().list({ type: 'list', filter: 'train.py' })).processes.map(p => p.pid), [21])
    assert.deepEqual((await services().list({ type: 'list' })).processes.map(p => p.pid), [10, 20, 21, 30])
  })

  it('marks managed processes only when the start time still matches', async () => {
    const managed = new Map<number, ManagedMark>([
      [30, { managedId: 'm1', startedBy: 'peer-b', startTime: T0 + 5 }],
      [20, { managedId: 'm2', startedBy: 'peer-c', startTime: T0 + 99 }] // the pid was reused
    ])
    const { processes } = await services(managed).list({ type: 'list' })
    const byPid = new Map(processes.map(p => [p.pid, p]))
    assert.equal(byPid.get(30)?.managedId, 'm1')
    assert.equal(byPid.get(30)?.startedBy, 'hostB (peer-b)')
    assert.equal(byPid.get(20)?.managedId, undefined)
  })

  it('carries a managed process\'s name (ps --json managedName), and none for an unnamed one', async () => {
    const managed = new Map<number, ManagedMark>([
      [30, { managedId: 'm1', startedBy: 'peer-b', startTime: T0 + 5, name: 'api' }],
      [21, { managedId: 'm2', startedBy: 'peer-b', name: null }]
    ])
    const { processes } = await services(managed).list({ type: 'list' })
    const byPid = new Map(processes.map(p => [p.pid, p]))
    assert.equal(byPid.get(30)?.managedName, 'api')
    assert.equal(byPid.get(21)?.managedId, 'm2')
    assert.ok(!('managedName' in (byPid.get(21) ?? {})))
    // and the wire checks it like a name given to run
    assert.throws(() => LIST.validateResult({ collectedAt: 1, processes: [{ ...byPid.get(30), managedName: 'bad name!' }] }), /managedName/)
  })
})

const loaded = (pid: number, cpuPercent: number, rss: number): ProcessInfo => ({ pid, ppid: 1, uid: 0, user: 'root', name: `p${pid}`, cmd: `p${pid}`, state: 'S', cpuPercent, rss, startTime: 1 })
const loadedSnapshot: Snapshot = {
  collectedAt: Date.now(),
  host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 2, cpuPercent: 1, load: [0, 0, 0], memTotal: 100, memUsed: 10, uptime: 1 },
  processes: [loaded(1, 0, 50), loaded(2, 30, 10), loaded(3, 5, 90), loaded(4, 60, 20)]
}
const none = async (): Promise<never> => { throw new Error('not used') }
const control: ProcessControl = { start: none, stop: none, logs: none, restart: none, remove: none, managedByPid: () => new Map(), managed: () => [] }

describe('list with top (mesh-wide views ask each host for a screenful)', () => {
  const services = new HostServices({ sampler: new SharedSampler({ sample: async () => loadedSnapshot }), history: new HistoryRing(2000, 60_000), control, nameOf: () => undefined })

  it('returns the busiest by CPU and the total that matched', async () => {
    const r = await services.list({ type: 'list', top: { by: 'cpu', n: 2 } })
    assert.deepEqual(r.processes.map(p => p.pid), [4, 2])
    assert.equal(r.total, 4)
  })
  it('returns the largest by memory', async () => {
    const r = await services.list({ type: 'list', top: { by: 'mem', n: 1 } })
    assert.deepEqual(r.processes.map(p => p.pid), [3])
  })
  it('without top returns everything and no total', async () => {
    const r = await services.list({ type: 'list' })
    assert.equal(r.processes.length, 4)
    assert.equal(r.total, undefined)
  })
  it('the wire refuses a bad top, naming the field', () => {
    assert.throws(() => LIST.validateRequest({ type: 'list', top: { by: 'pid', n: 5 } }), /top\.by/)
    assert.throws(() => LIST.validateRequest({ type: 'list', top: { by: 'cpu', n: 0 } }), /top\.n/)
  })
})
