import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { moreSuffix, ReportThrottle } from '../../node/report-throttle.js'

describe('ReportThrottle', () => {
  it('one report per source and window, the next one counting what it stood for', () => {
    const t = new ReportThrottle({ windowMs: 1000 })
    assert.deepEqual(t.take('a', 0), { report: true, more: 0 })
    for (let i = 1; i <= 5; i++) assert.deepEqual(t.take('a', i * 100), { report: false })
    assert.deepEqual(t.take('b', 600), { report: true, more: 0 }, 'sources are counted apart')
    assert.deepEqual(t.take('a', 1000), { report: true, more: 5 })
    assert.equal(moreSuffix(5, 'peer x'), ' (and 5 more from peer x since)')
    assert.equal(moreSuffix(0, 'peer x'), '')
  })

  it('remembers a bounded number of sources, forgetting the oldest', () => {
    const t = new ReportThrottle({ windowMs: 1000, maxSources: 2 })
    t.take('a', 0)
    t.take('b', 0)
    t.take('c', 0)
    assert.deepEqual(t.take('a', 1), { report: true, more: 0 }, 'a was forgotten')
    assert.deepEqual(t.take('c', 1), { report: false })
  })
})
