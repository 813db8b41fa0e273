import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { formatEvents, parseTime, resolveRange, sparkline } from '../../cli/commands/history.js'
import { joinNegativeValues } from '../../cli/main.js'
import { UsageError } from '../../cli/args.js'

const NOW = new Date(2026, 10, 29, 7, 30, 0).getTime()

describe('history times and ranges', () => {
  it('reads clock times (today, or yesterday when still to come), ISO, relative and epoch ms', () => {
    assert.equal(parseTime('03:10', NOW, '--at'), new Date(2026, 10, 29, 3, 10, 0).getTime())
    assert.equal(parseTime('23:00', NOW, '--at'), new Date(2026, 10, 28, 23, 0, 0).getTime())
    assert.equal(parseTime('23:00', NOW, '--to', { future: true }), new Date(2026, 10, 29, 23, 0, 0).getTime())
    assert.equal(parseTime('2026-11-29T03:10:00Z', NOW, '--at'), Date.UTC(2026, 10, 29, 3, 10))
    assert.equal(parseTime('-2h', NOW, '--from'), NOW - 7_200_000)
    assert.equal(parseTime('-7d', NOW, '--from'), NOW - 7 * 86_400_000)
    assert.equal(parseTime('now', NOW, '--to'), NOW)
    assert.equal(parseTime('1795937388502', NOW, '--at'), 1795937388502)
  })
  it('refuses what is not a time, naming the flag', () => {
    for (const bad of ['10:99', '25:00', 'yesterday', '2026-13-45', '-2x', '']) {
      assert.throws(() => parseTime(bad, NOW, '--from'), (err: unknown) => err instanceof UsageError && /^--from: /.test(err.message), bad)
    }
  })
  it('resolves --since, --from/--to and --at into a range; backwards and mixed ranges are usage errors', () => {
    assert.deepEqual(resolveRange({ since: '1h' }, NOW), { from: NOW - 3_600_000, to: NOW })
    assert.deepEqual(resolveRange({}, NOW), { from: NOW - 3_600_000, to: NOW })
    assert.deepEqual(resolveRange({ from: '-2h' }, NOW), { from: NOW - 7_200_000, to: NOW })
    assert.deepEqual(resolveRange({ at: '-1h' }, NOW), { from: NOW - 5_400_000, to: NOW - 1_800_000, at: NOW - 3_600_000 })
    assert.throws(() => resolveRange({ from: '-1h', to: '-2h' }, NOW), /--from: .* is not before --to/)
    assert.throws(() => resolveRange({ since: '1h', from: '-2h' }, NOW), /either --since or --from/)
    assert.throws(() => resolveRange({ since: '1h', at: '-3h' }, NOW), /--at: .* outside the range/)
  })
  it('a relative time after a string option is its value, not a flag', () => {
    const options = { from: { type: 'string' as const }, events: { type: 'boolean' as const } }
    assert.deepEqual(joinNegativeValues(['x', '--from', '-2h', '--events'], options), ['x', '--from=-2h', '--events'])
    assert.deepEqual(joinNegativeValues(['--events', '-2h'], options), ['--events', '-2h'])
  })
})

describe('history output', () => {
  it('draws a sparkline scaled to the maximum, resampled to the width', () => {
    assert.equal(sparkline([0, 50, 100], 10, 100), '▁▅█')
    assert.equal(sparkline([0, 0, 100, 100], 2, 100), '▁█')
  })
  it('merges the events of several hosts in time order with the host', () => {
    const ev = (at: number, pid: number) => ({ at, kind: 'start' as const, pid, ppid: 1, startTime: at, name: 'x', cmd: 'x', user: 'root' })
    const out = formatEvents([{ name: 'b', events: [ev(2000, 2)] }, { name: 'a', events: [ev(1000, 1), ev(3000, 3)] }], true)
    const lines = out.split('\n').slice(1).map(l => l.split(/\s+/)[0])
    assert.deepEqual(lines, ['a', 'b', 'a'])
  })
})
