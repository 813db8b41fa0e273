/** Pure parts of `procmesh web`: request validation, access checks, error mapping, history downsampling. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ERROR_CODES, ProcmeshError } from '../../protocols/errors.js'
import type { HistoryPoint } from '../../protocols/messages.js'
import { downsample, historyEntryJson, keepLastOutput } from '../../cli/web/api.js'
import {
  bearerToken, formatHostPort, hostOfHeader, isLoopback, isLoopbackHostHeader, originMatches, parseListen, tokenMatches
} from '../../cli/web/access.js'
import { HttpError, STATUS_BY_CODE, httpErrorFrom } from '../../cli/web/http-errors.js'
import {
  parseDeploymentsQuery, parseHistoryQuery, parseJsonBody, parseLogsQuery, parseManagedQuery, parsePidSegment, parseProcessesQuery, parseRestartRequest, parseSignalName, parseSignalRequest, parseStartBody
} from '../../cli/web/requests.js'

function rejects400 (fn: () => unknown, fragment: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof HttpError, `expected an HttpError, got ${String(err)}`)
    assert.equal(err.status, 400)
    assert.equal(err.code, 'INVALID_REQUEST')
    if (typeof fragment === 'string') assert.ok(err.message.includes(fragment), `${JSON.stringify(err.message)} should mention ${JSON.stringify(fragment)}`)
    else assert.match(err.message, fragment)
    return true
  })
}

describe('web: listen addresses and loopback', () => {
  it('parses HOST:PORT forms', () => {
    assert.deepEqual(parseListen('127.0.0.1:7070'), { host: '127.0.0.1', port: 7070 })
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 })
    assert.deepEqual(parseListen('localhost:80'), { host: 'localhost', port: 80 })
    assert.deepEqual(parseListen('0.0.0.0:7070'), { host: '0.0.0.0', port: 7070 })
  })
  for (const bad of ['7070', '127.0.0.1', '127.0.0.1:', ':7070', '127.0.0.1:70000', '[zz]:1', '::1:7070', 'a b:1']) {
    it(`refuses --listen ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseListen(bad), /--listen: /)
    })
  }
  const loopback: Array<[string, boolean]> = [
    ['127.0.0.1', true], ['127.0.0.2', true], ['127.255.1.1', true], ['localhost', true], ['::1', true], ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false], ['::', false], ['10.0.0.1', false], ['192.168.1.2', false], ['example.com', false], ['128.0.0.1', false], ['::ffff:10.0.0.1', false]
  ]
  for (const [host, expected] of loopback) {
    it(`isLoopback(${host}) is ${String(expected)}`, () => { assert.equal(isLoopback(host), expected) })
  }
  it('formats IPv6 hosts in brackets', () => {
    assert.equal(formatHostPort('::1', 80), '[::1]:80')
    assert.equal(formatHostPort('127.0.0.1', 80), '127.0.0.1:80')
  })
})

describe('web: request checks', () => {
  it('finds bearer tokens', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc')
    assert.equal(bearerToken('bearer   abc'), 'abc')
    assert.equal(bearerToken(undefined), undefined)
    assert.equal(bearerToken('Basic abc'), undefined)
    assert.equal(bearerToken('Bearer'), undefined)
    assert.equal(bearerToken('Bearer a b'), undefined)
  })
  it('compares tokens whatever their lengths', () => {
    assert.equal(tokenMatches('secret-token-1234567890', 'secret-token-1234567890'), true)
    assert.equal(tokenMatches('secret-token-1234567890', 'secret-token-1234567891'), false)
    assert.equal(tokenMatches('', 'secret'), false)
    assert.equal(tokenMatches('secret-and-more', 'secret'), false)
  })
  it('accepts only loopback Host headers (DNS rebinding)', () => {
    assert.equal(hostOfHeader('[::1]:7070'), '::1')
    assert.equal(hostOfHeader('Example.COM:80'), 'example.com')
    for (const ok of ['127.0.0.1:7070', 'localhost:7070', '[::1]:7070', 'localhost', '127.0.0.5']) assert.equal(isLoopbackHostHeader(ok), true, ok)
    for (const bad of ['evil.example:7070', '10.0.0.1:7070', '', undefined, 'localhost.evil.example:7070']) assert.equal(isLoopbackHostHeader(bad), false, String(bad))
  })
  it('accepts an absent Origin and the same origin only', () => {
    assert.equal(originMatches(undefined, '127.0.0.1:7070'), true)
    assert.equal(originMatches('http://127.0.0.1:7070', '127.0.0.1:7070'), true)
    assert.equal(originMatches('http://127.0.0.1:7071', '127.0.0.1:7070'), false)
    assert.equal(originMatches('http://evil.example', '127.0.0.1:7070'), false)
    assert.equal(originMatches('null', '127.0.0.1:7070'), false)
    assert.equal(originMatches('https://127.0.0.1:7070', '127.0.0.1:7070'), false)
    assert.equal(originMatches('http://127.0.0.1:7070', undefined), false)
  })
})

describe('web: query and body validation', () => {
  it('processes query: host required, filter, sort and limit checked', () => {
    assert.deepEqual(parseProcessesQuery(new URLSearchParams('host=all')), { target: 'all' })
    assert.deepEqual(parseProcessesQuery(new URLSearchParams('host=web&filter=sleep&sort=cpu&limit=5')), { target: 'web', filter: 'sleep', sort: { key: 'cpu' }, limit: 5 })
    rejects400(() => parseProcessesQuery(new URLSearchParams('')), 'host: missing')
    rejects400(() => parseProcessesQuery(new URLSearchParams('host=')), 'host: must not be empty')
    rejects400(() => parseProcessesQuery(new URLSearchParams('host=a&host=b')), 'host: given 2 times')
    rejects400(() => parseProcessesQuery(new URLSearchParams('host=a&sort=size')), 'sort: one of')
    rejects400(() => parseProcessesQuery(new URLSearchParams('host=a&limit=0')), 'limit: expected an integer')
    rejects400(() => parseProcessesQuery(new URLSearchParams('host=a&limit=x')), 'limit: expected an integer')
    rejects400(() => parseProcessesQuery(new URLSearchParams(`host=a&filter=${'x'.repeat(300)}`)), 'filter: longer than')
  })
  it('history query: defaults to the last 15 minutes and 120 points', () => {
    assert.deepEqual(parseHistoryQuery(new URLSearchParams('host=all'), 1_000_000_000), { target: 'all', since: 1_000_000_000 - 15 * 60_000, points: 120 })
    assert.deepEqual(parseHistoryQuery(new URLSearchParams('host=x&since=5&points=10'), 0), { target: 'x', since: 5, points: 10 })
    rejects400(() => parseHistoryQuery(new URLSearchParams('host=x&points=100000'), 0), 'points: expected an integer from 1 to 1000')
    rejects400(() => parseHistoryQuery(new URLSearchParams('since=1'), 0), 'host: missing')
  })
  it('history ranges: from/to as the CLI takes times, points up to 2000, at and top, filter', () => {
    const now = Date.parse('2026-11-29T12:00:00Z')
    const q = (text: string): ReturnType<typeof parseHistoryQuery> => parseHistoryQuery(new URLSearchParams(text), now)
    assert.deepEqual(q('host=web&from=-1h'), { target: 'web', from: now - 3_600_000, to: now, points: 500 })
    assert.deepEqual(q('host=web&from=-7d&to=-1d&points=2000&filter=nginx'), { target: 'web', from: now - 7 * 86_400_000, to: now - 86_400_000, points: 2000, filter: 'nginx' })
    assert.deepEqual(q(`host=web&from=2026-11-29T10:00Z&to=${now}&at=2026-11-29T11:00Z&top=10&points=1`),
      { target: 'web', from: Date.parse('2026-11-29T10:00Z'), to: now, points: 1, at: Date.parse('2026-11-29T11:00Z'), top: 10 })
  })
  it('history ranges: a bad range is a 400 naming the parameter', () => {
    const now = Date.parse('2026-11-29T12:00:00Z')
    const bad: Array<[string, string | RegExp]> = [
      ['host=web&from=-1h&to=-2h', /^from: 2026-11-29T11:00:00\.000Z is not before to \(2026-11-29T10:00:00\.000Z\)$/],
      ['host=web&from=-1h&to=-1h', 'is not before to'],
      ['host=web&to=-1h', 'from: missing; a range needs its start'],
      ['host=web&from=yesterday', 'from: expected a time like 03:10, 2026-11-29T03:10Z or -2h, got "yesterday"'],
      ['host=web&from=-1h&to=soon', 'to: expected a time like'],
      ['host=web&from=-1h&to=banana', 'to: expected a time like'],
      ['host=web&from=2024-01-01&to=2026-01-02', 'to: the range 2024-01-01T00:00:00.000Z .. 2026-01-02T00:00:00.000Z is longer than 366 days'],
      ['host=web&from=-1h&at=-2h', 'at: 2026-11-29T10:00:00.000Z is outside the range'],
      ['host=web&from=-1h&at=noon', 'at: expected a time like'],
      ['host=web&from=-1h&points=0', 'points: expected an integer from 1 to 2000'],
      ['host=web&from=-1h&points=2001', 'points: expected an integer from 1 to 2000'],
      ['host=web&from=-1h&top=101', 'top: expected an integer from 0 to 100'],
      ['host=web&from=-1h&from=-2h', 'from: given 2 times'],
      ['host=web&since=5&from=-1h', 'since: give either since or a range'],
      ['host=web&at=-1h', 'at: needs a range'],
      ['host=web&top=5', 'top: needs a range'],
      ['host=web&filter=x', 'filter: needs a range'],
      [`host=web&from=-1h&filter=${'x'.repeat(300)}`, 'filter: longer than'],
      ['from=-1h', 'host: missing']
    ]
    for (const [text, fragment] of bad) rejects400(() => parseHistoryQuery(new URLSearchParams(text), now), fragment)
  })
  it('managed queries and restart requests', () => {
    assert.equal(parseManagedQuery(new URLSearchParams('host=all')), 'all')
    rejects400(() => parseManagedQuery(new URLSearchParams('')), 'host: missing')
    assert.deepEqual(parseRestartRequest('web1', 'api', {}), { target: 'web1', ref: 'api' })
    assert.deepEqual(parseRestartRequest('web1', '1234', {}), { target: 'web1', ref: '1234' })
    rejects400(() => parseRestartRequest('web1', 'a b', {}), 'ref: expected a managed process\'s id, name or pid')
    rejects400(() => parseRestartRequest('web1', '../x', {}), 'ref:')
    rejects400(() => parseRestartRequest('web1', 'api', { force: true }), 'force: unknown field in the body (a restart takes none')
    rejects400(() => parseRestartRequest('web1', 'api', []), 'body: expected an object')
    rejects400(() => parseRestartRequest('', 'api', {}), 'host: must not be empty')
  })
  it('JSON bodies', () => {
    assert.deepEqual(parseJsonBody('{"a":1}'), { a: 1 })
    rejects400(() => parseJsonBody(''), 'body: empty')
    rejects400(() => parseJsonBody('{"a":'), 'body: not valid JSON')
  })
  it('start bodies', () => {
    assert.deepEqual(parseStartBody({ host: 'web', argv: ['sleep', '1'] }), { target: 'web', argv: ['sleep', '1'] })
    assert.deepEqual(parseStartBody({ host: 'web', argv: ['env'], cwd: '/tmp', env: { A: 'b' }, requestId: 'r-1' }), { target: 'web', argv: ['env'], cwd: '/tmp', env: { A: 'b' }, requestId: 'r-1' })
    const bad: Array<[unknown, string]> = [
      [[], 'body: expected an object'],
      ['x', 'body: expected an object'],
      [{ argv: ['x'] }, 'host: missing'],
      [{ host: 7, argv: ['x'] }, 'host: expected a string'],
      [{ host: 'a' }, 'argv: missing'],
      [{ host: 'a', argv: [] }, 'argv: must not be empty'],
      [{ host: 'a', argv: 'sleep 1' }, 'argv: expected an array'],
      [{ host: 'a', argv: ['sleep', 1] }, 'argv[1]: expected a string'],
      [{ host: 'a', argv: ['x'], cwd: '' }, 'cwd: must not be empty'],
      [{ host: 'a', argv: ['x'], env: { LD_PRELOAD: 'x' } }, 'LD_PRELOAD'],
      [{ host: 'a', argv: ['x'], requestId: 'has space' }, 'requestId: does not match'],
      [{ host: 'a', argv: ['x'], shell: true }, 'shell: unknown field']
    ]
    for (const [body, fragment] of bad) rejects400(() => parseStartBody(body), fragment)
  })
  it('signal names', () => {
    for (const [text, expected] of [['TERM', 'TERM'], ['term', 'TERM'], ['SIGKILL', 'KILL'], ['sigint', 'INT'], [' HUP ', 'HUP']]) assert.equal(parseSignalName(text), expected)
    rejects400(() => parseSignalName('SIGFOO'), 'signal: unknown signal "SIGFOO"')
    rejects400(() => parseSignalName(9), 'signal: expected a signal name')
  })
  it('pid segments', () => {
    assert.equal(parsePidSegment('123'), 123)
    for (const bad of ['abc', '-1', '1.5', '', '99999999999', '0x10', '12a']) rejects400(() => parsePidSegment(bad), 'pid: expected an integer process id')
  })
  it('signal requests', () => {
    assert.deepEqual(parseSignalRequest('web', '42', {}), { target: 'web', pid: 42, signal: 'TERM' })
    assert.deepEqual(parseSignalRequest('web', '42', { signal: 'KILL', startTime: 5, tree: true, graceMs: 1000 }), { target: 'web', pid: 42, signal: 'KILL', startTime: 5, tree: true, graceMs: 1000 })
    rejects400(() => parseSignalRequest('web', 'x', {}), 'pid: expected an integer')
    rejects400(() => parseSignalRequest('web', '42', { signal: 'NOPE' }), 'unknown signal')
    rejects400(() => parseSignalRequest('web', '42', { tree: 'yes' }), 'tree: expected a boolean')
    rejects400(() => parseSignalRequest('web', '42', { graceMs: -1 }), 'graceMs: must be >= 0')
    rejects400(() => parseSignalRequest('web', '42', { graceMs: 60 * 60_000 }), 'graceMs: must be <=')
    rejects400(() => parseSignalRequest('web', '42', { startTime: 'now' }), 'startTime: expected a finite number')
    rejects400(() => parseSignalRequest('web', '42', { pid: 7 }), 'pid: unknown field')
    rejects400(() => parseSignalRequest('web', '42', null), 'body: expected an object')
  })
})

describe('web: errors', () => {
  it('every node error code has a 4xx or 5xx status', () => {
    for (const code of ERROR_CODES) {
      const status = STATUS_BY_CODE[code]
      assert.ok(status >= 400 && status < 600, `${code} -> ${status}`)
    }
  })
  it('maps node errors as the issue says', () => {
    const expect: Array<[ProcmeshError['code'], number]> = [
      ['FORBIDDEN', 403], ['UNKNOWN_PEER', 404], ['NOT_FOUND', 404], ['AMBIGUOUS_PEER', 400], ['INVALID_REQUEST', 400],
      ['TIMEOUT', 504], ['PEER_OFFLINE', 502], ['UNAVAILABLE', 502], ['NO_NODE', 503]
    ]
    for (const [code, status] of expect) {
      const e = httpErrorFrom(new ProcmeshError(code, `because ${code}`))
      assert.equal(e.status, status, code)
      assert.deepEqual(e.toJSON(), { error: { code, message: `because ${code}` } })
    }
    const unexpected = httpErrorFrom(new TypeError('boom'))
    assert.equal(unexpected.status, 500)
    assert.equal(unexpected.code, 'SERVER_ERROR')
  })
})

describe('web: history for sparklines', () => {
  const points = (n: number): HistoryPoint[] => Array.from({ length: n }, (_, i) => ({ at: i * 1000, cpuPercent: i % 2 === 0 ? 10 : 20, memUsed: 100 + i, load1: 1, procCount: 10 }))
  it('keeps short series as they are', () => {
    assert.deepEqual(downsample(points(5), 10), points(5))
  })
  it('averages long series into buckets ending at their last point', () => {
    const out = downsample(points(1000), 100)
    assert.equal(out.length, 100)
    assert.equal(out[0].at, 9000)
    assert.equal(out[99].at, 999_000)
    assert.equal(out[0].cpuPercent, 15)
    assert.equal(out[0].memUsed, 105)
    assert.ok(out.every((p, i) => i === 0 || p.at > out[i - 1].at))
  })
  it('passes per-host errors through and flattens a host\'s history', () => {
    assert.deepEqual(historyEntryJson({ peerId: 'p', name: 'n', error: { code: 'TIMEOUT', message: 'slow' } }, 10), { peerId: 'p', name: 'n', error: { code: 'TIMEOUT', message: 'slow' } })
    const entry = historyEntryJson({ peerId: 'p', name: 'n', history: { intervalMs: 1000, memTotal: 5, points: points(2) } }, 10)
    assert.deepEqual(entry, { peerId: 'p', name: 'n', intervalMs: 1000, memTotal: 5, points: points(2) })
  })
})

describe('web: GET /api/logs parameters', () => {
  const q = (text: string): ReturnType<typeof parseLogsQuery> => parseLogsQuery(new URLSearchParams(text))

  it('takes a host and a managed id, name or pid, and follow', () => {
    assert.deepEqual(q('host=web-1&id=m-1a2b'), { target: 'web-1', ref: 'm-1a2b', follow: false })
    assert.deepEqual(q('host=self&id=api&follow=1'), { target: 'self', ref: 'api', follow: true })
    assert.deepEqual(q('host=self&id=4242&follow=true'), { target: 'self', ref: '4242', follow: true })
    assert.deepEqual(q('host=self&id=4242&follow=0'), { target: 'self', ref: '4242', follow: false })
  })

  it('refuses what the CLI refuses, naming the parameter', () => {
    rejects400(() => q('id=api'), /^host: missing/)
    rejects400(() => q('host=all&id=api'), /^host: logs come from exactly one host/)
    rejects400(() => q('host=tag:role=web&id=api'), /group target/)
    rejects400(() => q('host=self'), /^id: missing/)
    rejects400(() => q('host=self&id='), /^id: missing/)
    rejects400(() => q('host=self&id=../etc'), /^id: expected a managed process's id, name or pid/)
    rejects400(() => q(`host=self&id=${'x'.repeat(65)}`), /^id: expected/)
    rejects400(() => q('host=self&id=a&id=b'), /^id: given 2 times/)
    rejects400(() => q('host=self&id=api&follow=yes'), /^follow: expected 1, true, 0 or false/)
  })
})

describe('web: the logs answer keeps the last output', () => {
  it('keeps everything under the cap, in order', () => {
    const chunks = [{ stream: 'stdout' as const, data: 'a\n' }, { stream: 'stderr' as const, data: 'b\n' }]
    assert.deepEqual(keepLastOutput(chunks, 100), { output: chunks, dropped: false })
  })

  it('drops the oldest output first and cuts a chunk at its end, whole characters only', () => {
    const chunks = [{ stream: 'stdout' as const, data: 'old\n' }, { stream: 'stdout' as const, data: 'éé12\n' }, { stream: 'stderr' as const, data: 'new\n' }]
    const r = keepLastOutput(chunks, 4 + 4)
    assert.equal(r.dropped, true)
    assert.deepEqual(r.output, [{ stream: 'stdout', data: '12\n' }, { stream: 'stderr', data: 'new\n' }])
    const bytes = r.output.reduce((n, c) => n + Buffer.byteLength(c.data), 0)
    assert.ok(bytes <= 8)
    assert.deepEqual(keepLastOutput(chunks, 4 + 6).output[0], { stream: 'stdout', data: 'é12\n' })
  })
})

describe('web: GET /api/deployments parameters', () => {
  it('takes an optional deployment name, as `deployments NAME`', () => {
    assert.equal(parseDeploymentsQuery(new URLSearchParams('')), undefined)
    assert.equal(parseDeploymentsQuery(new URLSearchParams('name=web-1')), 'web-1')
    rejects400(() => parseDeploymentsQuery(new URLSearchParams('name=1bad')), /^name: "1bad": a deployment name starts with a letter/)
    rejects400(() => parseDeploymentsQuery(new URLSearchParams('name=a&name=b')), /^name: given 2 times/)
  })
})
