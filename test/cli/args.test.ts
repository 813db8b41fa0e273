import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parseDuration, parsePairs, parseSize, resolveHome, UsageError } from '../../cli/args.js'
import { backoffDelay } from '../../node/mesh/dialer.js'

describe('parseDuration', () => {
  const ok: Array<[string, number]> = [['2s', 2000], ['500ms', 500], ['1m', 60000], ['3', 3000], ['1.5s', 1500], ['1h', 3600000], ['7d', 604800000]]
  for (const [text, ms] of ok) it(`${text} = ${ms} ms`, () => { assert.equal(parseDuration(text, '--x'), ms) })
  for (const bad of ['', 'fast', '-1s', '2 s s', '1w']) {
    it(`rejects ${JSON.stringify(bad)}`, () => { assert.throws(() => parseDuration(bad, '--interval'), (e: Error) => e instanceof UsageError && e.message.startsWith('--interval:')) })
  }
})

describe('parseSize', () => {
  const ok: Array<[string, number]> = [['256MiB', 256 * 1024 ** 2], ['64M', 64 * 1024 ** 2], ['1G', 1024 ** 3], ['500k', 512000], ['1000', 1000], ['2b', 2]]
  for (const [text, n] of ok) it(`${text} = ${n} bytes`, () => { assert.equal(parseSize(text, '--x'), n) })
  for (const bad of ['', 'big', '-1M', '1T', '1 M B']) {
    it(`rejects ${JSON.stringify(bad)}`, () => { assert.throws(() => parseSize(bad, '--history-size'), (e: Error) => e instanceof UsageError && e.message.startsWith('--history-size:')) })
  }
})

describe('parsePairs', () => {
  it('parses K=V, keeping = in values', () => { assert.deepEqual(parsePairs(['a=1', 'b=x=y'], '--tag'), { a: '1', b: 'x=y' }) })
  it('rejects a pair without key', () => { assert.throws(() => parsePairs(['=1'], '--tag'), /--tag: expected KEY=VALUE/) })
  it('rejects a pair without =', () => { assert.throws(() => parsePairs(['abc'], '--env'), /--env: expected KEY=VALUE/) })
})

describe('resolveHome', () => {
  it('prefers the flag, then PROCMESH_HOME, then ~/.procmesh', () => {
    assert.equal(resolveHome('/a', { PROCMESH_HOME: '/b' }), '/a')
    assert.equal(resolveHome(undefined, { PROCMESH_HOME: '/b' }), '/b')
    assert.match(resolveHome(undefined, {}), /\.procmesh$/)
  })
})

describe('backoffDelay', () => {
  it('grows exponentially and is capped at 30 s', () => {
    assert.equal(backoffDelay(0, 0.5), 500)
    assert.equal(backoffDelay(1, 0.5), 1000)
    assert.equal(backoffDelay(3, 0.5), 4000)
    assert.equal(backoffDelay(40, 0.5), 30000)
    assert.ok(backoffDelay(2, 0) >= 1500 && backoffDelay(2, 0.999) <= 2500)
  })
})

describe('controlEndpoint', () => {
  it('is the socket in the home on Unix and a named pipe per home on Windows', async () => {
    const { controlEndpoint } = await import('../../node/setup/home.js')
    assert.equal(controlEndpoint('/home/u/.procmesh', 'linux'), '/home/u/.procmesh/procmesh.sock')
    const pipe = controlEndpoint('C:\\Users\\u\\.procmesh', 'win32')
    assert.match(pipe, /^\\\\\.\\pipe\\procmesh-[0-9a-f]{16}$/)
    assert.equal(controlEndpoint('c:\\users\\U\\.procmesh', 'win32'), pipe)
    assert.notEqual(controlEndpoint('C:\\other', 'win32'), pipe)
  })
})
