import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { HostServices, type ProcessControl } from '../../../node/host/host-services.js'
import { HistoryRing } from '../../../node/host/history.js'
import { SharedSampler } from '../../../node/host/sampler.js'
import { LIST } from '../../../protocols/messages.js'
import type { ProcessInfo, Snapshot } from '../../../protocols/types.js'

const proc = (pid: number, cpuPercent: number, rss: number): ProcessInfo => ({ pid, ppid: 1, uid: 0, user: 'root', name: `p${pid}`, cmd: `p${pid}`, state: 'S', cpuPercent, rss, startTime: 1 })
const snapshot: Snapshot = {
  collectedAt: Date.now(),
  host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 2, cpuPercent: 1, load: [0, 0, 0], memTotal: 100, memUsed: 10, uptime: 1 },
  processes: [proc(1, 0, 50), proc(2, 30, 10), proc(3, 5, 90), proc(4, 60, 20)]
}
const none = async (): Promise<never> => { throw new Error('not used') }
const control: ProcessControl = { start: none, stop: none, logs: none, restart: none, remove: none, managedByPid: () => new Map(), managed: () => [] }

describe('list with top (mesh-wide views ask each host for a screenful)', () => {
  const services = new HostServices({ sampler: new SharedSampler({ sample: async () => snapshot }), history: new HistoryRing(2000, 60_000), control, nameOf: () => undefined })

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
