import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { checkSummaryOrigin, decodeSummary, encodeSummary, validateSummary } from '../../protocols/summary.js'
import { MAX_SUMMARY_BYTES } from '../../protocols/limits.js'
import { sampleSummary } from '../fixtures-summary.js'

const enc = new TextEncoder()

function withHost (extra: Record<string, unknown>): unknown {
  const s = sampleSummary()
  return { ...s, host: { ...s.host, ...extra } }
}

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
    ['addr not string', { ...sampleSummary(), addrs: [5] }, /summary\.addrs\[0\]: expected a string/],
    ['a core over 100%', withHost({ cores: [10, 101] }), /summary\.host\.cores\[1\]: must be <= 100/],
    ['swap used over total', withHost({ swapTotal: 10, swapUsed: 11 }), /summary\.host\.swapUsed: 11 is more than swapTotal \(10\)/],
    ['a disk more used than big', withHost({ disks: [{ mount: '/', fstype: 'ext4', total: 10, used: 11, avail: 0 }] }), /summary\.host\.disks\[0\]\.used: 11 is more than total \(10\)/],
    ['an escape in a mount point', withHost({ disks: [{ mount: '/\u001b]0;pwned\u0007', fstype: 'ext4', total: 10, used: 1, avail: 9 }] }), /summary\.host\.disks\[0\]\.mount: contains the control character U\+001B/],
    ['an unknown alert level', withHost({ alerts: [{ metric: 'cpu', level: 'panic', value: 99 }] }), /summary\.host\.alerts\[0\]\.level: expected one of careful, warning, critical/],
    ['an absurd I/O rate', withHost({ io: { diskRead: 1e300, diskWrite: 0, netRx: 0, netTx: 0 } }), /summary\.host\.io\.diskRead: must be <= 1000000000000/]
  ]
  for (const [name, value, message] of invalid) {
    it(`rejects ${name}`, () => {
      assert.throws(() => validateSummary(value), (err: Error) => message.test(err.message))
    })
  }

  it('carries the optional host figures, and drops fields it does not know', () => {
    const extras = {
      cores: [12, 87],
      memAvailable: 5e9,
      memCached: 1e9,
      swapTotal: 2e9,
      swapUsed: 1e8,
      disks: [{ mount: '/', fstype: 'ext4', total: 1e11, used: 6e10, avail: 3e10 }],
      io: { diskRead: 1000, diskWrite: 2000, netRx: 300, netTx: 400 },
      openFiles: 1824,
      sockets: 231,
      alerts: [{ metric: 'disk' as const, mount: '/', level: 'careful' as const, value: 66.7 }]
    }
    const s = withHost({ ...extras, gpuTemp: 80 })
    assert.deepEqual(decodeSummary(enc.encode(JSON.stringify(s))).host, { ...sampleSummary().host, ...extras })
  })

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
