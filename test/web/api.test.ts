/**
 * The web API against real nodes: two `procmesh node`s in the root namespace on
 * 127.0.0.1 without mDNS (the second bootstrapped to the first), servers in this
 * process and `procmesh web` as a child process for the token file.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CONTROL_DISABLED_MESSAGE } from '../../cli/web/http-errors.js'
import { MAX_BODY_BYTES, WebServer } from '../../cli/web/server.js'
import { WEB_TOKEN_FILE } from '../../cli/web/access.js'
import type { IdInfo, PeerEntry } from '../../protocols/types.js'
import { LocalNode, removeHome, tempHome, waitFor } from '../helpers/procmesh.js'
import { sseParser, type SseMessage } from '../../cli/web/page-lib.js'
import { errorOf, http, openEvents, runWebCli, startWebCli, tempDir, type RequestOptions, type WebProcess } from './helpers.js'

const PEER_KEYS = ['peerId', 'name', 'status', 'lastSeen', 'tags', 'addrs', 'self', 'host', 'procCount', 'version', 'reach']
const PROCESS_KEYS = ['pid', 'ppid', 'user', 'name', 'cmd', 'state', 'cpuPercent', 'rss', 'startTime']
/** fields `ps --json` gives where the platform or the process has them */
const OPTIONAL_PROCESS_KEYS = ['threads', 'nice', 'priority', 'cpuTime', 'alert', 'managedId', 'startedBy', 'managedName']

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('procmesh web API against two real nodes', { timeout: 240_000 }, () => {
  const homes: string[] = []
  const nodes: LocalNode[] = []
  const servers: WebServer[] = []
  const webs: WebProcess[] = []
  const children: ChildProcess[] = []
  let a: LocalNode
  let b: LocalNode
  let aId: IdInfo
  let bId: IdInfo
  let readOnly: WebServer
  let control: WebServer
  let ro: string
  let ctl: string
  const marker = `pmweb-${randomBytes(4).toString('hex')}`
  // control is never served without the API token, on loopback too (issue 17 finding 12)
  const CTL_TOKEN = randomBytes(16).toString('base64url')
  const ctlHttp = async (url: string, opts: RequestOptions = {}): ReturnType<typeof http> => await http(url, { ...opts, headers: { Authorization: `Bearer ${CTL_TOKEN}`, ...opts.headers } })

  async function server (opts: Partial<ConstructorParameters<typeof WebServer>[0]> = {}): Promise<WebServer> {
    const s = new WebServer({ listen: { host: '127.0.0.1', port: 0 }, home: a.home, allowControl: false, pollIntervalMs: 200, ...opts })
    servers.push(s)
    await s.start()
    return s
  }

  /** A process of this machine that the test owns: both root-namespace nodes see it. */
  function spawnTarget (): ChildProcess {
    const child = spawn('perl', ['-e', 'sleep 600', marker], { stdio: 'ignore' })
    children.push(child)
    return child
  }

  before(async () => {
    const homeA = await tempHome('pmweb-a-')
    const homeB = await tempHome('pmweb-b-')
    homes.push(homeA, homeB)
    a = new LocalNode(homeA, 'webtest')
    nodes.push(a)
    await a.start()
    aId = await a.id()
    b = new LocalNode(homeB, 'webtest2')
    nodes.push(b)
    await b.start(['--bootstrap', aId.addrs[0]])
    bId = await b.id()
    await waitFor(async () => (await a.peers()).some(p => p.name === 'webtest2' && p.status === 'online'), { timeoutMs: 30_000, what: 'webtest to see webtest2 online' })
    readOnly = await server()
    control = await server({ allowControl: true, token: CTL_TOKEN })
    ro = readOnly.url.replace(/\/$/, '')
    ctl = control.url.replace(/\/$/, '')
  })

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    for (const w of webs) await w.stop()
    for (const s of servers) await s.stop()
    for (const n of nodes) await n.stop()
    for (const h of homes) await removeHome(h)
  })

  it('GET /api/info says what the server allows', async () => {
    assert.deepEqual((await http(`${ro}/api/info`)).json, { version: '0.1.0', allowControl: false, tokenRequired: false })
    assert.deepEqual((await ctlHttp(`${ctl}/api/info`)).json, { version: '0.1.0', allowControl: true, tokenRequired: true })
    assert.equal((await http(`${ctl}/api/info`)).status, 401, 'control without the token: refused')
  })

  it('GET /api/hosts is `peers --json`', async () => {
    const r = await http(`${ro}/api/hosts`)
    assert.equal(r.status, 200)
    assert.match(String(r.headers['content-type']), /^application\/json/)
    assert.equal(r.headers['access-control-allow-origin'], undefined, 'no CORS')
    const hosts = r.json as PeerEntry[]
    assert.deepEqual(hosts.map(h => h.name).sort(), ['webtest', 'webtest2'])
    for (const h of hosts) assert.deepEqual(Object.keys(h), PEER_KEYS)
    const cli = JSON.parse((await a.cli(['peers', '--json'])).stdout) as PeerEntry[]
    assert.deepEqual(hosts.map(h => Object.keys(h)), cli.map(h => Object.keys(h)), 'the same fields in the same order as the CLI')
    assert.deepEqual(new Set(hosts.map(h => h.peerId)), new Set([aId.peerId, bId.peerId]))
    assert.equal(hosts.find(h => h.self)?.peerId, aId.peerId)
  })

  it('GET /api/processes is `ps --json`, for one host, by name or peer id, and for all', async () => {
    const target = spawnTarget()
    const byName = await http(`${ro}/api/processes?host=webtest2`)
    assert.equal(byName.status, 200)
    const entries = byName.json as Array<{ peerId: string, name: string, collectedAt: number, processes: Array<Record<string, unknown>> }>
    assert.equal(entries.length, 1)
    assert.equal(entries[0].peerId, bId.peerId)
    assert.deepEqual(Object.keys(entries[0]), ['peerId', 'name', 'collectedAt', 'processes'])
    for (const p of entries[0].processes) assert.deepEqual(Object.keys(p).filter(k => !OPTIONAL_PROCESS_KEYS.includes(k)), PROCESS_KEYS)
    const cli = JSON.parse((await a.cli(['ps', 'webtest2', '--json'])).stdout) as typeof entries
    assert.deepEqual(Object.keys(cli[0]), Object.keys(entries[0]))

    const byId = await http(`${ro}/api/processes?host=${bId.peerId.slice(0, 20)}`)
    assert.equal((byId.json as typeof entries)[0].name, 'webtest2')

    const found = await waitFor(async () => {
      const r = await http(`${ro}/api/processes?host=webtest2&filter=${marker}`)
      const list = (r.json as typeof entries)[0].processes
      return list.some(p => p.pid === target.pid) ? list : undefined
    }, { timeoutMs: 10_000, what: 'the target process in a filtered list' })
    assert.ok(found.every(p => String(p.cmd).includes(marker)), 'the filter keeps only matches')

    const all = await http(`${ro}/api/processes?host=all&filter=${marker}&sort=pid&limit=1`)
    const allEntries = all.json as typeof entries
    assert.deepEqual(allEntries.map(e => e.name).sort(), ['webtest', 'webtest2'])
    assert.ok(allEntries.every(e => e.processes.length <= 1), 'limit applies per host')

    const none = await http(`${ro}/api/processes?host=tag:role=nothing`)
    assert.equal(none.status, 200)
    assert.deepEqual(none.json, [])
  })

  it('GET /api/processes: bad input and unknown hosts', async () => {
    const cases: Array<[string, number, string, string]> = [
      ['/api/processes', 400, 'INVALID_REQUEST', 'host: missing'],
      ['/api/processes?host=', 400, 'INVALID_REQUEST', 'host: must not be empty'],
      ['/api/processes?host=all&sort=bogus', 400, 'INVALID_REQUEST', 'sort: one of'],
      ['/api/processes?host=all&limit=-3', 400, 'INVALID_REQUEST', 'limit:'],
      ['/api/processes?host=no-such-host', 404, 'UNKNOWN_PEER', 'no-such-host'],
      ['/api/processes?host=tag:broken', 400, 'INVALID_REQUEST', 'tag:KEY=VALUE'],
      ['/api/history', 400, 'INVALID_REQUEST', 'host: missing'],
      ['/api/history?host=all&points=0', 400, 'INVALID_REQUEST', 'points:'],
      ['/api/nothing', 404, 'NOT_FOUND', '/api/nothing']
    ]
    for (const [path, status, code, fragment] of cases) {
      const r = await http(`${ro}${path}`)
      assert.equal(r.status, status, `${path}: ${r.text}`)
      const e = errorOf(r)
      assert.equal(e.code, code, path)
      assert.ok(e.message.includes(fragment), `${path}: ${JSON.stringify(e.message)} should mention ${fragment}`)
    }
    const put = await http(`${ro}/api/hosts`, { method: 'PUT', body: {} })
    assert.equal(put.status, 405)
    assert.equal(put.headers.allow, 'GET')
    assert.equal(errorOf(put).code, 'METHOD_NOT_ALLOWED')
  })

  it('GET /api/history gives each host\'s samples for sparklines', async () => {
    const r = await http(`${ro}/api/history?host=all&points=5`)
    assert.equal(r.status, 200)
    const entries = r.json as Array<{ peerId: string, name: string, intervalMs: number, memTotal: number, points: Array<{ at: number, cpuPercent: number, memUsed: number }> }>
    assert.deepEqual(entries.map(e => e.name).sort(), ['webtest', 'webtest2'])
    for (const e of entries) {
      assert.ok(e.memTotal > 0 && e.intervalMs > 0, JSON.stringify(e).slice(0, 200))
      assert.ok(e.points.length >= 1 && e.points.length <= 5, `${e.points.length} points`)
      assert.ok(e.points.every(p => p.cpuPercent >= 0 && p.memUsed > 0 && p.at > 0))
    }
  })

  it('GET /api/history with a range: the durable history of each host, and a bad range is a 400 naming the parameter', async () => {
    const r = await http(`${ro}/api/history?host=all&from=-1h&points=50`)
    assert.equal(r.status, 200, r.text)
    const entries = r.json as Array<{ name: string, points: Array<{ at: number }>, range?: { from: number, to: number, bucketMs: number } }>
    assert.deepEqual(entries.map(e => e.name).sort(), ['webtest', 'webtest2'])
    for (const e of entries) {
      assert.ok(e.range !== undefined && e.range.to - e.range.from === 3_600_000, JSON.stringify(e.range))
      assert.ok(e.points.length <= 50)
    }
    const at = await http(`${ro}/api/history?host=webtest&from=-10m&at=-1s&top=3&points=1`)
    assert.equal(at.status, 200, at.text)
    const [one] = at.json as Array<{ atSample?: { at: number, processes: Array<{ pid: number, name: string }> } }>
    assert.ok(one.atSample !== undefined && one.atSample.processes.length > 0, at.text.slice(0, 300))
    const bad: Array<[string, string]> = [
      ['host=all&from=-1h&to=-2h', 'from: '],
      ['host=all&from=tomorrow', 'from: expected a time like'],
      ['host=all&from=-1h&points=5000', 'points: expected an integer from 1 to 2000'],
      ['host=all&top=3', 'top: needs a range']
    ]
    for (const [query, fragment] of bad) {
      const res = await http(`${ro}/api/history?${query}`)
      assert.equal(res.status, 400, query)
      assert.equal(errorOf(res).code, 'INVALID_REQUEST')
      assert.ok(errorOf(res).message.startsWith(fragment), `${query}: ${errorOf(res).message}`)
    }
  })

  it('GET /api/managed is `ls --json`; a restart needs --allow-control', async () => {
    const r = await http(`${ro}/api/managed?host=all`)
    assert.equal(r.status, 200, r.text)
    assert.deepEqual((r.json as Array<{ name: string, processes: unknown[] }>).map(e => e.name).sort(), ['webtest', 'webtest2'])
    assert.equal((await http(`${ro}/api/managed?host=nosuchhost`)).status, 404)
    const denied = await http(`${ro}/api/managed/webtest/api/restart`, { method: 'POST', body: {} })
    assert.equal(denied.status, 403)
    const unknown = await ctlHttp(`${ctl}/api/managed/webtest/nosuchname/restart`, { method: 'POST', body: {} })
    assert.equal(unknown.status, 404, unknown.text)
    assert.match(errorOf(unknown).message, /nosuchname/)
    const badRef = await ctlHttp(`${ctl}/api/managed/webtest/a%20b/restart`, { method: 'POST', body: {} })
    assert.equal(badRef.status, 400)
  })

  it('GET /api/logs: a managed process\'s output as `logs --json`, and with follow=1 its new output as events until it exits', async () => {
    const name = `logger-${randomBytes(3).toString('hex')}`
    const run = await a.cli(['run', 'self', '--name', name, '--json', '--', 'sh', '-c', `i=0; while :; do echo "${marker}-$i"; echo "err-$i" >&2; i=$((i+1)); sleep 0.3; done`])
    assert.equal(run.code, 0, run.stderr)
    const started = JSON.parse(run.stdout) as { pid: number, managedId: string }
    try {
      await waitFor(async () => {
        const r = await http(`${ro}/api/logs?host=webtest&id=${name}`)
        return r.status === 200 && (r.json as { output: Array<{ data: string }> }).output.some(c => c.data.includes(`${marker}-1`)) ? true : undefined
      }, { timeoutMs: 10_000, what: 'two lines in the logs answer' })
      const byId = await http(`${ro}/api/logs?host=webtest&id=${started.managedId}`)
      assert.equal(byId.status, 200, byId.text)
      const body = byId.json as { peerId: string, name: string, exited: boolean, truncated: boolean, output: Array<{ stream: string, data: string }> }
      assert.equal(body.name, 'webtest')
      assert.equal(body.peerId, aId.peerId)
      assert.equal(body.exited, false)
      assert.ok(body.output.some(c => c.stream === 'stdout' && c.data.includes(`${marker}-0\n`)), 'stdout is there')
      assert.ok(body.output.some(c => c.stream === 'stderr' && c.data.includes('err-0\n')), 'stderr is there, told apart')
      // by pid too, as the CLI takes it
      assert.equal((await http(`${ro}/api/logs?host=webtest&id=${started.pid}`)).status, 200)

      // follow: the kept output, then new lines, then the end when the process is killed
      const ctrl = new AbortController()
      const res = await fetch(`${ro}/api/logs?host=webtest&id=${name}&follow=1`, { signal: ctrl.signal, headers: { Accept: 'text/event-stream' } })
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
      const events: SseMessage[] = []
      const parser = sseParser(m => { events.push(m) })
      const reading = (async () => {
        const decoder = new TextDecoder()
        for await (const part of res.body ?? []) parser.push(decoder.decode(part as Uint8Array, { stream: true }))
      })().catch(() => {})
      const seen = (): string => events.filter(e => e.event === 'chunk').map(e => (JSON.parse(e.data) as { data: string }).data).join('')
      const last = Math.max(...[...seen().matchAll(new RegExp(`${marker}-(\\d+)`, 'g'))].map(m => Number(m[1])), 0)
      await waitFor(async () => seen().includes(`${marker}-${last + 3}\n`) ? true : undefined, { timeoutMs: 10_000, what: 'new output while following' })
      process.kill(started.pid, 'SIGKILL')
      await waitFor(async () => events.some(e => e.event === 'end') ? true : undefined, { timeoutMs: 10_000, what: 'the end event' })
      const end = JSON.parse(events.find(e => e.event === 'end')?.data ?? '{}') as { exited: boolean, signal: string | null }
      assert.equal(end.exited, true)
      assert.match(end.signal ?? '', /KILL/)
      await reading
      ctrl.abort()
    } finally {
      try { process.kill(started.pid, 'SIGKILL') } catch { /* already gone */ }
      await a.cli(['rm', 'self', name])
    }
  })

  it('GET /api/deployments is `deployments --json`; a bad name is a 400 naming it', async () => {
    const r = await http(`${ro}/api/deployments`)
    assert.equal(r.status, 200, r.text)
    const cli = await a.cli(['deployments', '--json'])
    assert.equal(cli.code, 0, cli.stderr)
    assert.deepEqual(r.json, JSON.parse(cli.stdout))
    const bad = await http(`${ro}/api/deployments?name=-x`)
    assert.equal(bad.status, 400)
    assert.match(errorOf(bad).message, /^name: /)
  })

  it('GET /api/logs: bad parameters are 400s naming them, an unknown process is 404, and a failed follow says why', async () => {
    const missing = await http(`${ro}/api/logs?host=webtest`)
    assert.equal(missing.status, 400)
    assert.match(errorOf(missing).message, /^id: missing/)
    const group = await http(`${ro}/api/logs?host=all&id=x`)
    assert.equal(group.status, 400)
    assert.match(errorOf(group).message, /^host: logs come from exactly one host/)
    const follow = await http(`${ro}/api/logs?host=webtest&id=x&follow=maybe`)
    assert.equal(follow.status, 400)
    assert.match(errorOf(follow).message, /^follow:/)
    const unknown = await http(`${ro}/api/logs?host=webtest&id=nosuchname`)
    assert.equal(unknown.status, 404, unknown.text)
    assert.match(errorOf(unknown).message, /nosuchname/)
    assert.equal((await http(`${ro}/api/logs?host=nosuchhost&id=x`)).status, 404)
    const res = await fetch(`${ro}/api/logs?host=webtest&id=nosuchname&follow=1`)
    const text = await res.text()
    assert.match(text, /event: error\ndata: \{"code":"[A-Z_]+","message":"[^"]*nosuchname/)
    // the server still serves
    assert.equal((await http(`${ro}/api/info`)).status, 200)
  })

  it('GET /api/events: a snapshot, then joins and status changes, from one poller that stops with the last listener', async () => {
    assert.equal(readOnly.eventsPolling, false, 'no polling before anyone listens')
    const first = await openEvents(`${ro}/api/events`)
    const second = await openEvents(`${ro}/api/events`)
    try {
      assert.equal(first.status, 200)
      const snap = await first.next(e => e.type === 'snapshot', 10_000, 'a snapshot')
      assert.ok(snap.type === 'snapshot')
      assert.deepEqual(snap.hosts.map(h => h.name).sort(), ['webtest', 'webtest2'])
      await second.next(e => e.type === 'snapshot', 10_000, 'a snapshot on the second stream')
      assert.equal(readOnly.eventClients, 2)
      assert.equal(readOnly.eventsPolling, true)
      await first.next(e => e.type === 'summary', 10_000, 'a summary update')

      const homeC = await tempHome('pmweb-c-')
      homes.push(homeC)
      const c = new LocalNode(homeC, 'webtest3')
      nodes.push(c)
      await c.start(['--bootstrap', aId.addrs[0]])
      const joined = await first.next(e => e.type === 'peer-joined' && e.peer.name === 'webtest3', 30_000, 'webtest3 to join')
      assert.ok(joined.type === 'peer-joined')
      assert.deepEqual(Object.keys(joined.peer), PEER_KEYS)
      await second.next(e => e.type === 'peer-joined' && e.peer.name === 'webtest3', 10_000, 'webtest3 on the second stream')
      await c.stop()
      const changed = await first.next(e => e.type === 'peer-status' && e.peer.name === 'webtest3', 30_000, 'webtest3 to change status')
      assert.ok(changed.type === 'peer-status' && changed.previous === 'online' && changed.peer.status !== 'online')
    } finally {
      first.close()
      second.close()
    }
    await waitFor(() => readOnly.eventClients === 0 && !readOnly.eventsPolling, { timeoutMs: 5000, what: 'the poller to stop with no listener' })
  })

  it('POSTs are 403 without --allow-control, whatever the body', async () => {
    const requests: Array<[string, unknown]> = [
      ['/api/processes', { host: 'webtest2', argv: ['sleep', '60'] }],
      ['/api/processes', 'not json'],
      [`/api/processes/webtest2/${process.pid}/signal`, { signal: 'TERM' }],
      ['/api/processes/webtest2/abc/signal', {}]
    ]
    for (const [path, body] of requests) {
      const r = await http(`${ro}${path}`, { method: 'POST', body })
      assert.equal(r.status, 403, path)
      assert.deepEqual(r.json, { error: { code: 'FORBIDDEN', message: CONTROL_DISABLED_MESSAGE } })
    }
    assert.equal(CONTROL_DISABLED_MESSAGE, 'control is disabled; start procmesh web with --allow-control')
  })

  it('POSTs: bad input gets a 4xx naming the problem', async () => {
    const pid = spawnTarget().pid ?? 0
    const cases: Array<[string, RequestOptions, number, string, string]> = [
      ['/api/processes', { body: '{"host": "webtest",' }, 400, 'INVALID_REQUEST', 'body: not valid JSON'],
      ['/api/processes', { body: '' }, 400, 'INVALID_REQUEST', 'body: empty'],
      ['/api/processes', { body: [1] }, 400, 'INVALID_REQUEST', 'body: expected an object'],
      ['/api/processes', { body: { argv: ['true'] } }, 400, 'INVALID_REQUEST', 'host: missing'],
      ['/api/processes', { body: { host: 'webtest' } }, 400, 'INVALID_REQUEST', 'argv: missing'],
      ['/api/processes', { body: { host: 'webtest', argv: [] } }, 400, 'INVALID_REQUEST', 'argv: must not be empty'],
      ['/api/processes', { body: { host: 'webtest', argv: ['x'], env: { LD_PRELOAD: '/x.so' } } }, 400, 'INVALID_REQUEST', 'LD_PRELOAD'],
      ['/api/processes', { body: { host: 'all', argv: ['true'] } }, 400, 'INVALID_REQUEST', 'exactly one host'],
      ['/api/processes', { body: { host: 'nobody', argv: ['true'] } }, 404, 'UNKNOWN_PEER', 'nobody'],
      ['/api/processes', { body: 'host=webtest', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'application/json'],
      ['/api/processes', { body: '{}', headers: { 'Content-Type': 'text/plain' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'text/plain'],
      ['/api/processes', { body: Buffer.from([0x7b, 0xff, 0x7d]) }, 400, 'INVALID_REQUEST', 'UTF-8'],
      ['/api/processes/webtest/abc/signal', { body: {} }, 400, 'INVALID_REQUEST', 'pid: expected an integer'],
      ['/api/processes/webtest/1.5/signal', { body: {} }, 400, 'INVALID_REQUEST', 'pid: expected an integer'],
      [`/api/processes/webtest/${pid}/signal`, { body: { signal: 'SIGFOO' } }, 400, 'INVALID_REQUEST', 'unknown signal "SIGFOO"'],
      [`/api/processes/webtest/${pid}/signal`, { body: { signal: 'TERM', tree: 'yes' } }, 400, 'INVALID_REQUEST', 'tree: expected a boolean'],
      [`/api/processes/webtest/${pid}/signal`, { body: { signal: 'TERM', nonsense: 1 } }, 400, 'INVALID_REQUEST', 'nonsense: unknown field'],
      [`/api/processes/nobody/${pid}/signal`, { body: { signal: 'TERM' } }, 404, 'UNKNOWN_PEER', 'nobody'],
      [`/api/processes/webtest/${pid}/signal`, { body: { signal: 'TERM' }, headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' } }, 403, 'FORBIDDEN', 'cross-origin'],
      [`/api/processes/webtest/${pid}/signal`, { body: { signal: 'TERM' }, headers: { 'Content-Type': 'application/json', 'Sec-Fetch-Site': 'cross-site' } }, 403, 'FORBIDDEN', 'cross-origin']
    ]
    for (const [path, opts, status, code, fragment] of cases) {
      const r = await ctlHttp(`${ctl}${path}`, { method: 'POST', ...opts })
      assert.equal(r.status, status, `${path} ${JSON.stringify(opts.body ?? '').slice(0, 60)}: ${r.text}`)
      const e = errorOf(r)
      assert.equal(e.code, code, path)
      assert.ok(e.message.includes(fragment), `${path}: ${JSON.stringify(e.message)} should mention ${fragment}`)
    }
    assert.ok(alive(pid), 'none of that signalled the target')
  })

  it('POST bodies over 1 MiB get 413, declared or streamed', async () => {
    const big = JSON.stringify({ host: 'webtest', argv: ['x'.repeat(MAX_BODY_BYTES)] })
    const declared = await ctlHttp(`${ctl}/api/processes`, { method: 'POST', body: big })
    assert.equal(declared.status, 413)
    assert.equal(errorOf(declared).code, 'PAYLOAD_TOO_LARGE')
    assert.match(errorOf(declared).message, /larger than 1048576 bytes/)
    // chunked: no Content-Length, the cap is enforced while reading
    const streamed = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request(`${ctl}/api/processes`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${CTL_TOKEN}` } }, res => { res.resume(); resolve(res.statusCode ?? 0) })
        req.on('error', reject)
        const chunk = Buffer.alloc(64 * 1024, 0x20)
        let sent = 0
        const pump = (): void => {
          while (sent < 2 * MAX_BODY_BYTES) {
            sent += chunk.length
            if (!req.write(chunk)) { req.once('drain', pump); return }
          }
          req.end()
        }
        pump()
      }, reject)
    }).catch((err: unknown) => { throw new Error(`chunked upload: ${String(err)}`) })
    assert.equal(streamed, 413)
    assert.equal((await ctlHttp(`${ctl}/api/info`)).status, 200, 'the server goes on serving')
  })

  it('a denied stop is 403 with the target\'s reason, and nothing is signalled', async () => {
    const target = spawnTarget()
    await waitFor(async () => ((await http(`${ro}/api/processes?host=webtest2&filter=${marker}`)).json as Array<{ processes: Array<{ pid: number }> }>)[0].processes.some(p => p.pid === target.pid), { timeoutMs: 10_000, what: 'the target in webtest2\'s list' })
    const r = await ctlHttp(`${ctl}/api/processes/webtest2/${target.pid ?? 0}/signal`, { method: 'POST', body: { signal: 'KILL' } })
    assert.equal(r.status, 403, r.text)
    const e = errorOf(r)
    assert.equal(e.code, 'FORBIDDEN')
    assert.match(e.message, /lacks the control role on webtest2/)
    assert.ok(e.message.includes(aId.peerId), 'the reason names the peer that asked')
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.ok(alive(target.pid ?? 0), 'the target still runs')
  })

  it('a signal to a pid that does not exist is 404', async () => {
    const r = await ctlHttp(`${ctl}/api/processes/webtest/${2 ** 22 + 12345}/signal`, { method: 'POST', body: { signal: 'TERM' } })
    assert.equal(r.status, 404, r.text)
    assert.equal(errorOf(r).code, 'NOT_FOUND')
  })

  it('stops a process on another host once that host grants control', async () => {
    const grant = await b.cli(['trust', 'add', aId.peerId, '--role', 'exec'])
    assert.equal(grant.code, 0, grant.stderr)
    const target = spawnTarget()
    const exited = new Promise<NodeJS.Signals | null>(resolve => target.once('exit', (_code, signal) => { resolve(signal) }))
    const listed = await waitFor(async () => ((await http(`${ro}/api/processes?host=webtest2&filter=${marker}`)).json as Array<{ processes: Array<{ pid: number, startTime: number }> }>)[0].processes.find(p => p.pid === target.pid), { timeoutMs: 10_000, what: 'the target in webtest2\'s list' })
    const r = await ctlHttp(`${ctl}/api/processes/${encodeURIComponent(bId.peerId)}/${listed.pid}/signal`, { method: 'POST', body: { signal: 'TERM', startTime: listed.startTime } })
    assert.equal(r.status, 200, r.text)
    assert.deepEqual(r.json, { peerId: bId.peerId, name: 'webtest2', pid: listed.pid, signal: 'TERM', result: (r.json as { result: string }).result, signalled: (r.json as { signalled: number[] }).signalled })
    assert.ok(['signalled', 'exited'].includes((r.json as { result: string }).result))
    assert.equal(await exited, 'SIGTERM')
    const again = await ctlHttp(`${ctl}/api/processes/webtest2/${listed.pid}/signal`, { method: 'POST', body: { signal: 'TERM', startTime: listed.startTime } })
    assert.ok(again.status === 404 || (again.status === 200 && (again.json as { result: string }).result === 'gone'), `a second stop finds nothing to signal: ${again.text}`)
  })

  it('starts a process on another host (201) and stops it', async () => {
    const r = await ctlHttp(`${ctl}/api/processes`, { method: 'POST', body: { host: 'webtest2', argv: ['perl', '-e', 'sleep 600', marker] } })
    assert.equal(r.status, 201, r.text)
    const started = r.json as { peerId: string, name: string, managedId: string, pid: number, startTime: number }
    assert.deepEqual(Object.keys(started), ['peerId', 'name', 'managedId', 'pid', 'startTime'])
    assert.equal(started.name, 'webtest2')
    const listed = await waitFor(async () => ((await http(`${ro}/api/processes?host=webtest2&filter=${marker}`)).json as Array<{ processes: Array<{ pid: number, managedId?: string }> }>)[0].processes.find(p => p.pid === started.pid), { timeoutMs: 10_000, what: 'the started process in the list' })
    assert.equal(listed.managedId, started.managedId, 'the list marks it as managed')
    const stop = await ctlHttp(`${ctl}/api/processes/webtest2/${started.pid}/signal`, { method: 'POST', body: { signal: 'KILL', startTime: started.startTime } })
    assert.equal(stop.status, 200, stop.text)
    await waitFor(() => !alive(started.pid), { timeoutMs: 10_000, what: `pid ${started.pid} to end` })
  })

  it('with no node running: 503 NO_NODE', async () => {
    const empty = await tempDir('pmweb-empty-')
    homes.push(empty)
    const s = await server({ home: empty })
    const r = await http(`${s.url}api/hosts`)
    assert.equal(r.status, 503)
    assert.equal(errorOf(r).code, 'NO_NODE')
    const page = await http(s.url)
    assert.equal(page.status, 200, 'the page itself is still served')
  })

  it('on loopback, a Host that is not a loopback name is refused (DNS rebinding)', async () => {
    const r = await http(`${ro}/api/hosts`, { headers: { Host: 'rebind.example:80' } })
    assert.equal(r.status, 403)
    assert.match(errorOf(r).message, /not a loopback name/)
    assert.equal((await http(`${ro}/`, { headers: { Host: 'rebind.example' } })).status, 403)
    assert.equal((await http(`${ro}/api/hosts`, { headers: { Host: `localhost:${readOnly.port ?? 0}` } })).status, 200)
  })

  it('serves the page with a strict CSP and no CORS', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/app.css', 'text/css'], ['/favicon.svg', 'image/svg+xml']]) {
      const r = await http(`${ro}${path}`)
      assert.equal(r.status, 200, path)
      assert.ok(String(r.headers['content-type']).startsWith(type), `${path}: ${String(r.headers['content-type'])}`)
      assert.match(String(r.headers['content-security-policy']), /script-src 'self'/)
      assert.equal(r.headers['x-content-type-options'], 'nosniff')
      assert.equal(r.headers['access-control-allow-origin'], undefined)
    }
    assert.equal((await http(`${ro}/nothing-here`)).status, 404)
    assert.equal((await http(`${ro}/`, { method: 'POST', body: {} })).status, 405)
  })
})

describe('procmesh web on a non-loopback address', { timeout: 120_000 }, () => {
  const homes: string[] = []
  const nodes: LocalNode[] = []
  const servers: WebServer[] = []
  const webs: WebProcess[] = []
  let node: LocalNode

  before(async () => {
    const home = await tempHome('pmweb-tok-')
    homes.push(home)
    node = new LocalNode(home, 'webtoken')
    nodes.push(node)
    await node.start()
  })

  after(async () => {
    for (const w of webs) await w.stop()
    for (const s of servers) await s.stop()
    for (const n of nodes) await n.stop()
    for (const h of homes) await removeHome(h)
  })

  it('refuses to start without a token', async () => {
    const s = new WebServer({ listen: { host: '0.0.0.0', port: 0 }, home: node.home, allowControl: false })
    await assert.rejects(s.start(), /refusing to serve 0\.0\.0\.0 without an API token/)
  })

  it('requires the bearer token on every API endpoint, and not for the page', async () => {
    const token = randomBytes(32).toString('base64url')
    const s = new WebServer({ listen: { host: '0.0.0.0', port: 0 }, home: node.home, allowControl: true, token })
    servers.push(s)
    await s.start()
    const base = `http://127.0.0.1:${s.port ?? 0}`
    const endpoints: Array<[string, string, unknown]> = [
      ['GET', '/api/info', undefined], ['GET', '/api/hosts', undefined], ['GET', '/api/processes?host=self', undefined],
      ['GET', '/api/history?host=self', undefined], ['GET', '/api/events', undefined],
      ['POST', '/api/processes', { host: 'self', argv: ['true'] }], ['POST', '/api/processes/self/1/signal', { signal: 'TERM' }]
    ]
    for (const [method, path, body] of endpoints) {
      const missing = await http(`${base}${path}`, { method, body })
      assert.equal(missing.status, 401, `${method} ${path} without a token`)
      assert.equal(missing.headers['www-authenticate'], 'Bearer realm="procmesh"')
      assert.equal(errorOf(missing).code, 'UNAUTHORIZED')
      assert.match(errorOf(missing).message, /missing API token/)
      for (const wrong of [`Bearer ${token.slice(0, -1)}x`, `Bearer ${token}x`, 'Bearer x', `Basic ${token}`, token]) {
        const r = await http(`${base}${path}`, { method, body, headers: { Authorization: wrong, 'Content-Type': 'application/json' } })
        assert.equal(r.status, 401, `${method} ${path} with ${wrong.slice(0, 12)}…`)
        assert.ok(!r.text.includes(token), 'the token never appears in answers')
      }
    }
    const auth = { Authorization: `Bearer ${token}` }
    assert.deepEqual((await http(`${base}/api/info`, { headers: auth })).json, { version: '0.1.0', allowControl: true, tokenRequired: true })
    const hosts = await http(`${base}/api/hosts`, { headers: { ...auth, Host: 'dashboard.lan:7070' } })
    assert.equal(hosts.status, 200, 'any Host name works with a token (no loopback check off loopback)')
    assert.equal((hosts.json as PeerEntry[])[0].name, 'webtoken')
    const events = await openEvents(`${base}/api/events`, auth)
    try {
      assert.equal(events.status, 200)
      await events.next(e => e.type === 'snapshot', 10_000, 'a snapshot with the token')
    } finally {
      events.close()
    }
    assert.equal((await http(`${base}/`)).status, 200, 'the page loads without a token (it asks for one)')
    assert.equal((await http(`${base}/app.js`)).status, 200)
  })

  it('`procmesh web` makes web.token (0600) once, shows it once, reuses it, and never logs it', async () => {
    const first = await startWebCli(['--home', node.home, '--listen', '0.0.0.0:0'])
    webs.push(first)
    const token = first.info.token
    assert.ok(token !== undefined && token.length >= 40, 'the new token is shown')
    assert.equal(first.info.tokenRequired, true)
    assert.equal(first.info.tokenFile, join(node.home, WEB_TOKEN_FILE))
    assert.equal(((await stat(join(node.home, WEB_TOKEN_FILE))).mode & 0o777), 0o600)
    assert.equal((await readFile(join(node.home, WEB_TOKEN_FILE), 'utf8')).trim(), token)
    const port = new URL(first.info.url).port
    const ok = await http(`http://127.0.0.1:${port}/api/hosts`, { headers: { Authorization: `Bearer ${token}` } })
    assert.equal(ok.status, 200)
    assert.equal((await http(`http://127.0.0.1:${port}/api/hosts`, { headers: { Authorization: 'Bearer wrong-token-wrong-token' } })).status, 401)
    assert.equal(await first.stop(), 0, 'SIGTERM stops it cleanly')
    assert.ok(!first.stderr().includes(token), 'stderr never has the token')

    const second = await startWebCli(['--home', node.home, '--listen', '0.0.0.0:0'])
    webs.push(second)
    assert.equal(second.info.token, undefined, 'an existing token is not shown again')
    assert.equal(second.info.tokenRequired, true)
    const port2 = new URL(second.info.url).port
    assert.equal((await http(`http://127.0.0.1:${port2}/api/info`, { headers: { Authorization: `Bearer ${token}` } })).status, 200)
    await second.stop()
    assert.ok(!second.stdout().includes(token) && !second.stderr().includes(token))
  })

  it('refuses to start with an unusable token file or without a home', async () => {
    const file = join(node.home, WEB_TOKEN_FILE)
    await chmod(file, 0o644)
    const open = await runWebCli(['--home', node.home, '--listen', '0.0.0.0:0'])
    assert.equal(open.code, 1)
    assert.match(open.stderr, /refusing to start without an API token .*readable by other users/)
    await writeFile(file, 'short\n', { mode: 0o600 })
    await chmod(file, 0o600)
    const short = await runWebCli(['--home', node.home, '--listen', '0.0.0.0:0'])
    assert.equal(short.code, 1)
    assert.match(short.stderr, /not usable/)
    const missing = await runWebCli(['--home', join(node.home, 'no-such-dir'), '--listen', '0.0.0.0:0'])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /does not exist/)
    const usage = await runWebCli(['--home', node.home, '--listen', 'nonsense'])
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /--listen: expected HOST:PORT/)
  })

  it('on loopback no token file is made (unless --require-token)', async () => {
    const home = await tempDir('pmweb-lo-')
    homes.push(home)
    const w = await startWebCli(['--home', home, '--listen', '127.0.0.1:0'])
    webs.push(w)
    assert.equal(w.info.tokenRequired, false)
    await w.stop()
    await assert.rejects(stat(join(home, WEB_TOKEN_FILE)))
    const strict = await startWebCli(['--home', home, '--listen', '127.0.0.1:0', '--require-token'])
    webs.push(strict)
    assert.equal(strict.info.tokenRequired, true)
    assert.equal((await http(`${strict.info.url}api/hosts`)).status, 401)
    await strict.stop()
  })
})
