import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SharedSampler } from '../../../node/host/sampler.js'
import type { Snapshot } from '../../../protocols/types.js'

function fakeCollector (): { sample: () => Promise<Snapshot>, calls: () => number, release: () => void } {
  let n = 0
  let releaseNext: (() => void) | undefined
  return {
    calls: () => n,
    release: () => { releaseNext?.() },
    sample: async () => {
      const id = ++n
      await new Promise<void>(resolve => { releaseNext = resolve })
      return { collectedAt: Date.now(), host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 1, cpuPercent: 0, load: [0, 0, 0], memTotal: 1, memUsed: 1, uptime: id }, processes: [] }
    }
  }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('SharedSampler', () => {
  it('shares one scan between concurrent callers', async () => {
    const c = fakeCollector()
    const s = new SharedSampler(c)
    const a = s.sample()
    const b = s.fresh()
    await tick()
    c.release()
    assert.equal(await a, await b)
    assert.equal(c.calls(), 1)
  })

  it('serves a young snapshot without scanning again', async () => {
    const c = fakeCollector()
    const s = new SharedSampler(c)
    const p = s.sample(); await tick(); c.release(); await p
    assert.equal(await s.fresh(10_000), await p)
    assert.equal(c.calls(), 1)
  })

  it('after invalidate(), never serves a scan that began before it', async () => {
    const c = fakeCollector()
    const s = new SharedSampler(c)
    const old = s.sample()
    await tick()
    s.invalidate()
    const fresh = s.fresh(10_000)
    c.release() // the old scan ends
    await old
    await tick(); await tick()
    c.release() // the new one ends
    const snap = await fresh
    assert.equal(c.calls(), 2)
    assert.equal(snap.host.uptime, 2)
    assert.equal(s.latest?.host.uptime, 2)
  })
})
