import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { checkSummaryOrigin, decodeSummary, encodeSummary, validateSummary } from '../../protocols/summary.js'
import { MAX_SUMMARY_BYTES } from '../../protocols/limits.js'
import { sampleSummary } from '../fixtures-summary.js'

const enc = new TextEncoder()

describe('summary codec', () => {
  it('round-trips a valid summary', () => {
    const s = sampleSummary()
    assert.deepEqual(decodeSummary(encodeSummary(s)), s)
  })

  const invalid: Array<[string, unknown, RegExp]> = [
    ['not an object', [1, 2], /^summary: expected an object/],
    ['wrong version', { ...sampleSummary(), v: 2 }, /summary\.v: unsupported version 2/],
    ['missing peerId', { ...sampleSummary(), peerId: undefined }, /summary\.peerId: expected a string/],
    ['empty name', { ...sampleSummary(), name: '' }, /summary\.name: must not be empty/],
    ['negative seq', { ...sampleSummary(), seq: -1 }, /summary\.seq: must be >= 0/],
    ['fractional seq', { ...sampleSummary(), seq: 1.5 }, /summary\.seq: expected an integer/],
    ['cpu over 100', { ...sampleSummary(), host: { ...sampleSummary().host, cpuPercent: 101 } }, /summary\.host\.cpuPercent: must be <= 100/],
    ['load of two', { ...sampleSummary(), host: { ...sampleSummary().host, load: [1, 2] } }, /summary\.host\.load: expected 3 numbers/],
    ['too many top', { ...sampleSummary(), topCpu: Array(6).fill({ pid: 1, name: 'x', cpuPercent: 0, rss: 0 }) }, /summary\.topCpu: more than 5 items/],
    ['bad top entry', { ...sampleSummary(), topMem: [{ pid: 'x' }] }, /summary\.topMem\[0\]\.pid: expected a finite number/],
    ['tag value not string', { ...sampleSummary(), tags: { a: 1 } }, /summary\.tags\.a: expected a string/],
    ['interval too small', { ...sampleSummary(), intervalMs: 1 }, /summary\.intervalMs: must be >= 200/],
    ['addr not string', { ...sampleSummary(), addrs: [5] }, /summary\.addrs\[0\]: expected a string/]
  ]
  for (const [name, value, message] of invalid) {
    it(`rejects ${name}`, () => {
      assert.throws(() => validateSummary(value), (err: Error) => message.test(err.message))
    })
  }

  it('rejects oversized bytes before parsing', () => {
    const big = enc.encode('{' + ' '.repeat(MAX_SUMMARY_BYTES) + '}')
    assert.throws(() => decodeSummary(big), /over the 4096-byte cap/)
  })

  it('rejects non-JSON and invalid UTF-8', () => {
    assert.throws(() => decodeSummary(enc.encode('{nope')), /not valid UTF-8 JSON/)
    assert.throws(() => decodeSummary(new Uint8Array([0xff, 0xfe])), /not valid UTF-8 JSON/)
  })

  it('refuses to encode an oversized summary', () => {
    assert.throws(() => encodeSummary(sampleSummary({ name: 'x'.repeat(5000) })), /over the 4096-byte cap/)
  })
})

describe('checkSummaryOrigin', () => {
  const s = sampleSummary({ seq: 10 })
  it('accepts the author describing itself with a newer seq', () => {
    assert.equal(checkSummaryOrigin(s, s.peerId, 9), undefined)
    assert.equal(checkSummaryOrigin(s, s.peerId, undefined), undefined)
  })
  it('rejects a summary describing another node', () => {
    assert.match(checkSummaryOrigin(s, '12D3KooWOther', undefined) ?? '', /describes .* but was authored by 12D3KooWOther/)
  })
  it('rejects a replay or an older seq', () => {
    assert.match(checkSummaryOrigin(s, s.peerId, 10) ?? '', /sequence 10 is not newer than 10/)
    assert.match(checkSummaryOrigin(s, s.peerId, 11) ?? '', /not newer/)
  })
})
