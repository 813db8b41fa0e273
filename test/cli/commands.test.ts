/**
 * ps, run, kill and logs against a fake node: a tiny control server on a temp
 * home's socket speaking the node's wire format (newline-delimited JSON-RPC 2.0,
 * `stream` notifications before the final response). No libp2p.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCommand } from '../../cli/main.js'
import { socketPath } from '../../cli/control-client.js'
import { STREAM_NOTIFICATION, UnknownMethodError, rpcErrorFrom, type PsEntry } from '../../protocols/control.js'
import { ProcmeshError, toProcmeshError } from '../../protocols/errors.js'
import { REQUEST_ID_PATTERN } from '../../protocols/messages.js'
import type { ProcessInfo } from '../../protocols/types.js'
import { isRecord } from '../../protocols/validate.js'

interface CallContext {
  notify: (data: unknown) => void
  /** resolves when the client's connection closes */
  closed: Promise<void>
}
type Handler = (params: unknown, ctx: CallContext) => Promise<unknown>

interface FakeNode {
  home: string
  calls: Array<{ method: string, params: unknown }>
  handlers: Map<string, Handler>
  close: () => Promise<void>
}

async function startFakeNode (): Promise<FakeNode> {
  const home = await mkdtemp(join(tmpdir(), 'pm-cli-'))
  const calls: FakeNode['calls'] = []
  const handlers = new Map<string, Handler>()
  const sockets = new Set<Socket>()
  const server: Server = createServer(sock => {
    sockets.add(sock)
    const closed = new Promise<void>(resolve => { sock.on('close', () => { sockets.delete(sock); resolve() }) })
    const write = (msg: unknown): void => { if (!sock.destroyed) sock.write(JSON.stringify(msg) + '\n') }
    let buffered = ''
    sock.setEncoding('utf8')
    sock.on('error', () => {})
    sock.on('data', (chunk: string) => {
      buffered += chunk
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const msg: unknown = JSON.parse(buffered.slice(0, nl))
        buffered = buffered.slice(nl + 1)
        if (!isRecord(msg) || typeof msg.method !== 'string') continue
        const id = msg.id
        calls.push({ method: msg.method, params: msg.params })
        const handler = handlers.get(msg.method)
        if (handler === undefined) {
          write({ jsonrpc: '2.0', id, error: rpcErrorFrom(new UnknownMethodError(`unknown method ${msg.method}`)) })
          continue
        }
        const notify = (data: unknown): void => { write({ jsonrpc: '2.0', method: STREAM_NOTIFICATION, params: { id, data } }) }
        handler(msg.params, { notify, closed }).then(
          result => { write({ jsonrpc: '2.0', id, result: result ?? null }) },
          (err: unknown) => { write({ jsonrpc: '2.0', id, error: rpcErrorFrom(toProcmeshError(err)) }) }
        )
      }
    })
  })
  await new Promise<void>(resolve => server.listen(socketPath(home), resolve))
  return {
    home,
    calls,
    handlers,
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
      await rm(home, { recursive: true, force: true })
    }
  }
}

interface Captured {
  /** everything in write order, to check interleaving */
  events: Array<{ stream: 'out' | 'err', text: string }>
  out: () => string
  err: () => string
}

async function cli (node: FakeNode, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number } & Captured> {
  const c = capture()
  // --home right after the command name: anything after `--` belongs to run's command
  const code = await runCommand([args[0], '--home', node.home, ...args.slice(1)], c.io(env))
  return { code, ...c }
}

function capture (): Captured & { io: (env: NodeJS.ProcessEnv) => { out: (t: string) => void, err: (t: string) => void, env: NodeJS.ProcessEnv } } {
  const events: Captured['events'] = []
  // like the real writers: every write ends with a newline
  const norm = (t: string): string => t.endsWith('\n') ? t : t + '\n'
  const join = (stream: 'out' | 'err'): string => events.filter(e => e.stream === stream).map(e => norm(e.text)).join('')
  return {
    events,
    out: () => join('out'),
    err: () => join('err'),
    io: env => ({ out: t => { events.push({ stream: 'out', text: t }) }, err: t => { events.push({ stream: 'err', text: t }) }, env })
  }
}

async function waitFor (check: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (check()) return true
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  return check()
}

function proc (pid: number, extra: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    pid, ppid: 1, uid: 1000, user: 'alice', name: `p${pid}`, cmd: `/usr/bin/p${pid}`, state: 'S',
    cpuPercent: 0, rss: 1024, startTime: 1_700_000_000_000, ...extra
  }
}

const PEER_A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const PEER_B = '12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const PEER_C = '12D3KooWCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC'

const PROCS_A = [
  proc(1, { ppid: 0, user: 'root', name: 'init', cmd: '/sbin/init', cpuPercent: 0.5, rss: 8 << 20 }),
  proc(100, { name: 'nginx', cmd: 'nginx: master', user: 'root', cpuPercent: 1, rss: 20 << 20 }),
  proc(101, { ppid: 100, name: 'nginx', cmd: 'nginx: worker', user: 'www-data', cpuPercent: 30, rss: 40 << 20 }),
  proc(200, { name: 'sleep', cmd: 'sleep 1000', cpuPercent: 0, rss: 1 << 20, managedId: 'job-1', startedBy: 'hostB' })
]
const ENTRY_A: PsEntry = { peerId: PEER_A, name: 'hostA', collectedAt: 1_700_000_100_000, processes: PROCS_A }
const ENTRY_B: PsEntry = { peerId: PEER_B, name: 'hostB', collectedAt: 1_700_000_100_001, processes: [proc(7, { name: 'redis', cmd: 'redis-server', cpuPercent: 5 })] }
const FAIL_C: PsEntry = { peerId: PEER_C, name: 'hostC', error: { code: 'TIMEOUT', message: 'hostC did not answer within 10000 ms' } }

/** A ps handler that streams each entry, then returns them all, like the node. */
function streamPs (entries: PsEntry[]): Handler {
  return async (_params, ctx) => {
    for (const e of entries) ctx.notify(e)
    return entries
  }
}

function parseJson (text: string): unknown {
  return JSON.parse(text)
}

describe('procmesh ps', () => {
  let node: FakeNode
  before(async () => { node = await startFakeNode() })
  after(async () => { await node.close() })

  it('defaults to self and prints the table without a peer header', async () => {
    node.handlers.set('ps', streamPs([ENTRY_A]))
    node.calls.length = 0
    const r = await cli(node, ['ps'])
    assert.equal(r.code, 0, r.err())
    // the node gives each host a little less than the CLI's 15 s, so a missing host always comes back named
    assert.deepEqual(node.calls, [{ method: 'ps', params: { target: 'self', streamed: true, hostTimeoutMs: 13_000 } }])
    const lines = r.out().trimEnd().split('\n')
    assert.match(lines[0], /^PID +USER +CPU% +RSS +STATE +START +COMMAND$/)
    assert.equal(lines.length, 1 + PROCS_A.length)
    assert.ok(!r.out().includes('=='))
    assert.match(r.out(), /@job-1 sleep 1000/)
    assert.equal(r.err(), '')
  })

  it('--json prints exactly the contract shape, once, with filter/sort/limit applied', async () => {
    node.handlers.set('ps', streamPs([ENTRY_A]))
    node.calls.length = 0
    const r = await cli(node, ['ps', 'hostA', '--json', '--filter', 'NGINX', '--sort', 'cpu', '--limit', '1'])
    assert.equal(r.code, 0, r.err())
    assert.deepEqual(node.calls[0].params, { target: 'hostA', streamed: true, hostTimeoutMs: 13_000, filter: 'NGINX' })
    assert.equal(r.events.filter(e => e.stream === 'out').length, 1)
    const doc = parseJson(r.out())
    assert.deepEqual(doc, [{
      peerId: PEER_A,
      name: 'hostA',
      collectedAt: ENTRY_A.collectedAt,
      processes: [{ pid: 101, ppid: 100, user: 'www-data', name: 'nginx', cmd: 'nginx: worker', state: 'S', cpuPercent: 30, rss: 40 << 20, startTime: 1_700_000_000_000 }]
    }])
  })

  it('--json keeps managedId and drops fields outside the contract', async () => {
    node.handlers.set('ps', streamPs([ENTRY_A]))
    const r = await cli(node, ['ps', '--json', '--filter', 'sleep'])
    const doc = parseJson(r.out()) as Array<{ processes: Array<Record<string, unknown>> }>
    assert.deepEqual(Object.keys(doc[0].processes[0]), ['pid', 'ppid', 'user', 'name', 'cmd', 'state', 'cpuPercent', 'rss', 'startTime', 'managedId'])
    assert.equal(doc[0].processes[0].managedId, 'job-1')
  })

  it('--managed lists only managed processes, in the table and in --json (with managedName when named)', async () => {
    const named = { ...ENTRY_A, processes: [...PROCS_A, proc(201, { name: 'python3', cmd: 'python3 -m http.server', managedId: 'job-2', managedName: 'api' })] }
    node.handlers.set('ps', streamPs([named]))
    const r = await cli(node, ['ps', '--managed'])
    assert.equal(r.code, 0, r.err())
    const lines = r.out().trimEnd().split('\n')
    assert.equal(lines.length, 3, r.out())
    assert.match(lines[1] + lines[2], /@job-1 sleep 1000/)
    assert.match(lines[1] + lines[2], /@api python3 -m http\.server/)
    const j = await cli(node, ['ps', '--managed', '--json'])
    const doc = parseJson(j.out()) as Array<{ processes: Array<Record<string, unknown>> }>
    assert.deepEqual(doc[0].processes.map(p => [p.managedId, p.managedName]), [['job-1', undefined], ['job-2', 'api']])
  })

  it('human and JSON output select the same rows', async () => {
    node.handlers.set('ps', streamPs([ENTRY_A]))
    const args = ['ps', '--sort', 'mem', '--limit', '2']
    const human = await cli(node, args)
    const json = await cli(node, [...args, '--json'])
    const pids = human.out().trimEnd().split('\n').slice(1).map(l => Number(l.trim().split(/\s+/)[0]))
    const doc = parseJson(json.out()) as Array<{ processes: Array<{ pid: number }> }>
    assert.deepEqual(pids, [101, 100])
    assert.deepEqual(doc[0].processes.map(p => p.pid), pids)
  })

  it('prints each peer as it arrives, with a header per peer, for a group target', async () => {
    const c = capture()
    let printedBeforeSecond = false
    node.handlers.set('ps', async (_params, ctx) => {
      ctx.notify(ENTRY_A)
      // the CLI must have printed hostA before hostB's answer exists
      printedBeforeSecond = await waitFor(() => c.out().includes('== hostA'))
      ctx.notify(FAIL_C)
      ctx.notify(ENTRY_B)
      return [ENTRY_A, FAIL_C, ENTRY_B]
    })
    const code = await runCommand(['ps', 'all', '--home', node.home], c.io({}))
    assert.equal(code, 1, 'hostC did not answer')
    assert.ok(printedBeforeSecond, 'hostA was not printed before hostC and hostB answered')
    const out = c.out()
    const headers = out.split('\n').filter(l => l.startsWith('=='))
    assert.deepEqual(headers, [
      `== hostA (${PEER_A.slice(0, 16)}) — 4 processes ==`,
      '== hostC == error: TIMEOUT hostC did not answer within 10000 ms',
      `== hostB (${PEER_B.slice(0, 16)}) — 1 process ==`
    ])
    // each peer printed once, although the final result repeats them
    assert.equal(out.split('== hostA').length, 2)
    assert.ok(out.indexOf('redis-server') > out.indexOf('== hostB'))
  })

  it('prints entries that only come in the final result', async () => {
    node.handlers.set('ps', async () => [ENTRY_A, ENTRY_B])
    const r = await cli(node, ['ps', 'tag:env=prod'])
    assert.equal(r.code, 0)
    assert.match(r.out(), /== hostA[\s\S]*== hostB/)
  })

  it('a host that did not answer fails the call (exit 1, named on stderr); --json carries it as an error entry', async () => {
    node.handlers.set('ps', streamPs([ENTRY_A, FAIL_C]))
    const r = await cli(node, ['ps', 'all', '--json'])
    assert.equal(r.code, 1)
    assert.match(r.err(), /^procmesh ps: 1 of 2 hosts did not answer: hostC: TIMEOUT hostC did not answer within 10000 ms\n$/)
    const doc = parseJson(r.out()) as Array<Record<string, unknown>>
    assert.equal(doc.length, 2)
    assert.deepEqual(doc[1], { peerId: PEER_C, name: 'hostC', error: { code: 'TIMEOUT', message: 'hostC did not answer within 10000 ms' } })
  })

  it('a host the view marks offline is listed but does not fail the call, unless --strict', async () => {
    const offline: PsEntry = { peerId: PEER_C, name: 'hostC', error: { code: 'PEER_OFFLINE', message: 'hostC is offline (last seen 2026-01-01T00:00:00.000Z)' } }
    node.handlers.set('ps', streamPs([ENTRY_A, offline]))
    const r = await cli(node, ['ps', 'all'])
    assert.equal(r.code, 0)
    assert.match(r.err(), /1 offline host skipped/)
    node.handlers.set('ps', streamPs([ENTRY_A, offline]))
    assert.equal((await cli(node, ['ps', 'all', '--strict'])).code, 1)
  })

  it('--strict exits 1 when any target failed, naming it', async () => {
    node.handlers.set('ps', streamPs([ENTRY_A, FAIL_C]))
    const r = await cli(node, ['ps', 'all', '--strict'])
    assert.equal(r.code, 1)
    assert.match(r.out(), /== hostA/)
    assert.match(r.err(), /hostC: TIMEOUT/)
  })

  it('exits 1 when every target failed, naming each cause', async () => {
    const denied: PsEntry = { peerId: PEER_B, name: 'hostB', error: { code: 'FORBIDDEN', message: 'no read role' } }
    node.handlers.set('ps', streamPs([FAIL_C, denied]))
    const r = await cli(node, ['ps', 'all', '--json'])
    assert.equal(r.code, 1)
    assert.equal((parseJson(r.out()) as unknown[]).length, 2)
    assert.match(r.err(), /^procmesh ps: every target failed: hostC: TIMEOUT .*; hostB: FORBIDDEN no read role\n$/)
  })

  it('a single failed target prints nothing on stdout and its cause on stderr', async () => {
    node.handlers.set('ps', streamPs([FAIL_C]))
    const r = await cli(node, ['ps', 'hostC'])
    assert.equal(r.code, 1)
    assert.equal(r.out(), '')
    assert.equal(r.err(), 'procmesh ps: hostC: TIMEOUT hostC did not answer within 10000 ms\n')
  })

  it('an error from the node propagates: one line on stderr, {error} with --json, exit 1', async () => {
    node.handlers.set('ps', async () => { throw new ProcmeshError('UNKNOWN_PEER', 'no peer named "nope" in the mesh') })
    const human = await cli(node, ['ps', 'nope'])
    assert.equal(human.code, 1)
    assert.equal(human.err(), 'procmesh ps: no peer named "nope" in the mesh\n')
    const json = await cli(node, ['ps', 'nope', '--json'])
    assert.equal(json.code, 1)
    assert.deepEqual(parseJson(json.out()), { error: { code: 'UNKNOWN_PEER', message: 'no peer named "nope" in the mesh' } })
  })

  it('a group that matches no peer is UNKNOWN_PEER', async () => {
    node.handlers.set('ps', async () => [])
    const r = await cli(node, ['ps', 'tag:env=none', '--json'])
    assert.equal(r.code, 1)
    assert.equal((parseJson(r.out()) as { error: { code: string } }).error.code, 'UNKNOWN_PEER')
  })

  it('--timeout keeps what arrived, says the rest is missing and exits 1', async () => {
    node.handlers.set('ps', async (_params, ctx) => {
      ctx.notify(ENTRY_A)
      await ctx.closed // never answers; ends when the CLI gives up
      return []
    })
    const r = await cli(node, ['ps', 'all', '--json', '--timeout', '200ms'])
    assert.equal(r.code, 1)
    assert.equal((parseJson(r.out()) as unknown[]).length, 1)
    assert.match(r.err(), /the node gave no answer for some hosts within 200 ms/)
    const strict = await cli(node, ['ps', 'all', '--timeout', '200ms', '--strict'])
    assert.equal(strict.code, 1)
  })

  it('--timeout with nothing arrived is a TIMEOUT failure', async () => {
    node.handlers.set('ps', async (_params, ctx) => { await ctx.closed; return [] })
    const r = await cli(node, ['ps', 'hostA', '--timeout', '100ms'])
    assert.equal(r.code, 1)
    assert.match(r.err(), /^procmesh ps: no answer for hostA within 100 ms/)
  })

  it('--tree prints the hierarchy with subtree totals', async () => {
    node.handlers.set('ps', streamPs([ENTRY_A]))
    const r = await cli(node, ['ps', '--tree'])
    assert.equal(r.code, 0)
    const lines = r.out().trimEnd().split('\n')
    assert.match(lines[0], /ΣCPU%\s+ΣRSS/)
    assert.match(r.out(), /├─ nginx: master/)
    assert.match(r.out(), /│ └─ nginx: worker/)
    assert.match(r.out(), /└─ @job-1 sleep 1000/)
    const master = lines.find(l => l.includes('nginx: master')) ?? ''
    assert.match(master, / 31\.0 +60\.0M /) // 1 + 30 % CPU, 20 + 40 MiB
  })

  it('cuts lines to COLUMNS', async () => {
    node.handlers.set('ps', streamPs([ENTRY_A]))
    const r = await cli(node, ['ps'], { COLUMNS: '40' })
    for (const line of r.out().trimEnd().split('\n')) assert.ok(Array.from(line).length <= 40, line)
    assert.match(r.out(), /…/)
  })

  const usage: Array<[string, string[], RegExp]> = [
    ['a bad --sort', ['ps', '--sort', 'size'], /--sort: one of cpu, mem, pid, name/],
    ['a bad --limit', ['ps', '--limit', 'ten'], /--limit: expected a positive integer/],
    ['a zero --limit', ['ps', '--limit', '0'], /--limit/],
    ['a bad --timeout', ['ps', '--timeout', 'soon'], /--timeout/],
    ['an unknown flag', ['ps', '--wide'], /Unknown option '--wide'/],
    ['two targets', ['ps', 'a', 'b'], /unexpected argument "b"/]
  ]
  for (const [name, args, message] of usage) {
    it(`${name} is a usage error (exit 2) and calls nothing`, async () => {
      node.calls.length = 0
      const r = await cli(node, args)
      assert.equal(r.code, 2)
      assert.match(r.err(), message)
      assert.match(r.err(), /usage: procmesh ps/)
      assert.equal(node.calls.length, 0)
    })
  }
})

describe('procmesh run', () => {
  let node: FakeNode
  before(async () => {
    node = await startFakeNode()
    node.handlers.set('run', async params => {
      const p = params as { target: string }
      return { peerId: PEER_B, name: p.target, managedId: 'm-42', pid: 4242, startTime: 1_700_000_200_000 }
    })
  })
  after(async () => { await node.close() })

  it('sends argv, cwd, env and a request id; prints the contract JSON', async () => {
    node.calls.length = 0
    const r = await cli(node, ['run', 'hostB', '--cwd', '/srv', '--env', 'A=1', '--env', 'B=x=y', '--json', '--', 'sleep', '--', '60'])
    assert.equal(r.code, 0, r.err())
    const params = node.calls[0].params as Record<string, unknown>
    assert.equal(node.calls[0].method, 'run')
    assert.deepEqual({ ...params, requestId: undefined }, { target: 'hostB', argv: ['sleep', '--', '60'], cwd: '/srv', env: { A: '1', B: 'x=y' }, requestId: undefined })
    assert.ok(typeof params.requestId === 'string' && REQUEST_ID_PATTERN.test(params.requestId), String(params.requestId))
    assert.deepEqual(parseJson(r.out()), { peerId: PEER_B, name: 'hostB', managedId: 'm-42', pid: 4242, startTime: 1_700_000_200_000 })
  })

  it('uses a fresh request id per invocation', async () => {
    node.calls.length = 0
    await cli(node, ['run', 'hostB', '--', 'true'])
    await cli(node, ['run', 'hostB', '--', 'true'])
    const ids = node.calls.map(c => (c.params as { requestId: string }).requestId)
    assert.notEqual(ids[0], ids[1])
  })

  it('prints a human line', async () => {
    const r = await cli(node, ['run', 'hostB', '--', 'sleep', '60'])
    assert.equal(r.code, 0)
    assert.equal(r.out(), 'started m-42 pid 4242 on hostB\n')
  })

  it('SPAWN_FAILED from the node exits 1 with its message', async () => {
    const saved = node.handlers.get('run')
    node.handlers.set('run', async () => { throw new ProcmeshError('SPAWN_FAILED', 'nosuchcmd: command not found') })
    const r = await cli(node, ['run', 'hostB', '--', 'nosuchcmd'])
    if (saved !== undefined) node.handlers.set('run', saved)
    assert.equal(r.code, 1)
    assert.equal(r.err(), 'procmesh run: nosuchcmd: command not found\n')
  })

  const usage: Array<[string, string[], RegExp]> = [
    ['no command', ['run', 'hostB'], /missing the command/],
    ['an empty command after --', ['run', 'hostB', '--'], /missing the command/],
    ['a command without --', ['run', 'hostB', 'ls'], /the command goes after --/],
    ['no target', ['run', '--', 'ls'], /missing arguments/],
    ['a bad --env', ['run', 'hostB', '--env', 'NOEQUALS', '--', 'ls'], /--env: expected KEY=VALUE/],
    ['a forbidden --env', ['run', 'hostB', '--env', 'LD_PRELOAD=/x.so', '--', 'ls'], /env\.LD_PRELOAD: may not be set remotely/],
    ['an empty argv[0]', ['run', 'hostB', '--', ''], /argv\[0\]: must not be empty/]
  ]
  for (const [name, args, message] of usage) {
    it(`${name} is a usage error (exit 2)`, async () => {
      node.calls.length = 0
      const r = await cli(node, args)
      assert.equal(r.code, 2, r.err())
      assert.match(r.err(), message)
      assert.equal(node.calls.length, 0)
    })
  }
})

describe('procmesh kill', () => {
  let node: FakeNode
  let outcome: 'signalled' | 'exited' | 'gone' = 'signalled'
  before(async () => {
    node = await startFakeNode()
    node.handlers.set('kill', async params => {
      const p = params as { pid: number, signal: string, tree?: boolean }
      return { peerId: PEER_B, name: 'hostB', pid: p.pid, signal: p.signal, result: outcome, signalled: outcome === 'gone' ? [] : p.tree === true ? [p.pid, p.pid + 1] : [p.pid] }
    })
  })
  after(async () => { await node.close() })

  it('signals with TERM by default and prints the result', async () => {
    outcome = 'signalled'
    node.calls.length = 0
    const r = await cli(node, ['kill', 'hostB', '123'])
    assert.equal(r.code, 0)
    assert.deepEqual(node.calls[0].params, { target: 'hostB', pid: 123, signal: 'TERM' })
    assert.equal(r.out(), 'pid 123 on hostB: signalled (TERM)\n')
  })

  const signals: Array<[string, string]> = [['SIGKILL', 'KILL'], ['kill', 'KILL'], ['sigint', 'INT'], ['HUP', 'HUP'], ['usr1', 'USR1']]
  for (const [given, sent] of signals) {
    it(`--signal ${given} is sent as ${sent}`, async () => {
      node.calls.length = 0
      const r = await cli(node, ['kill', 'hostB', '5', '--signal', given])
      assert.equal(r.code, 0)
      assert.equal((node.calls[0].params as { signal: string }).signal, sent)
    })
  }

  it('--tree and --grace reach the node; --json prints the contract shape', async () => {
    outcome = 'exited'
    node.calls.length = 0
    const r = await cli(node, ['kill', 'hostB', '300', '--tree', '--grace', '2s', '--json'])
    assert.equal(r.code, 0)
    assert.deepEqual(node.calls[0].params, { target: 'hostB', pid: 300, signal: 'TERM', tree: true, graceMs: 2000 })
    assert.deepEqual(parseJson(r.out()), { peerId: PEER_B, name: 'hostB', pid: 300, signal: 'TERM', result: 'exited', signalled: [300, 301], escalated: false })
  })

  it('a name or managed id goes to the node as a ref, resolved on the target', async () => {
    outcome = 'signalled'
    node.calls.length = 0
    // (this fake node answers with the pid it was given, i.e. none: only the request matters here)
    await cli(node, ['kill', 'hostB', 'nginx'])
    assert.deepEqual(node.calls[0].params, { target: 'hostB', ref: 'nginx', signal: 'TERM' })
  })

  it('names the other pids a tree kill reached', async () => {
    outcome = 'signalled'
    const r = await cli(node, ['kill', 'hostB', '300', '--tree'])
    assert.equal(r.out(), 'pid 300 on hostB: signalled (TERM); also signalled 1: 301\n')
  })

  it('a gone process prints the result and exits 1', async () => {
    outcome = 'gone'
    const human = await cli(node, ['kill', 'hostB', '123'])
    assert.equal(human.code, 1)
    assert.match(human.out(), /^pid 123 on hostB: gone/)
    assert.equal(human.err(), 'procmesh kill: pid 123 on hostB is gone; nothing was signalled\n')
    const json = await cli(node, ['kill', 'hostB', '123', '--json'])
    assert.equal(json.code, 1)
    assert.equal((parseJson(json.out()) as { result: string }).result, 'gone')
  })

  it('an error from the node exits 1', async () => {
    const saved = node.handlers.get('kill')
    node.handlers.set('kill', async () => { throw new ProcmeshError('FORBIDDEN', 'peer 12D3… lacks the control role on hostB') })
    const r = await cli(node, ['kill', 'hostB', '123', '--json'])
    if (saved !== undefined) node.handlers.set('kill', saved)
    assert.equal(r.code, 1)
    assert.deepEqual(parseJson(r.out()), { error: { code: 'FORBIDDEN', message: 'peer 12D3… lacks the control role on hostB' } })
  })

  const usage: Array<[string, string[], RegExp]> = [
    ['neither a pid nor a name', ['kill', 'hostB', 'ng/inx'], /PID\|NAME\|ID: expected a process id, or the name or managed id of a managed process, got "ng\/inx"/],
    ['a fractional pid', ['kill', 'hostB', '12.5'], /PID\|NAME\|ID: expected a process id/],
    ['a huge pid', ['kill', 'hostB', '99999999999'], /PID: expected an integer/],
    ['a missing pid', ['kill', 'hostB'], /missing PID/],
    ['an unknown signal', ['kill', 'hostB', '5', '--signal', 'SIGFOO'], /--signal: one of TERM, KILL/],
    ['a numeric signal', ['kill', 'hostB', '5', '--signal', '9'], /--signal/],
    ['a bad --grace', ['kill', 'hostB', '5', '--grace', 'later'], /--grace/],
    ['a --grace over the maximum', ['kill', 'hostB', '5', '--grace', '11m'], /--grace: at most 10 min/]
  ]
  for (const [name, args, message] of usage) {
    it(`${name} is a usage error (exit 2)`, async () => {
      node.calls.length = 0
      const r = await cli(node, args)
      assert.equal(r.code, 2, r.err())
      assert.match(r.err(), message)
      assert.equal(node.calls.length, 0)
    })
  }
})

describe('procmesh logs', () => {
  let node: FakeNode
  before(async () => { node = await startFakeNode() })
  after(async () => { await node.close() })

  const end = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ peerId: PEER_B, name: 'hostB', exited: true, exitCode: 3, signal: null, truncated: false, ...extra })

  it('writes stdout and stderr chunks to their streams, whole lines, then how it ended', async () => {
    node.handlers.set('logs', async (_params, ctx) => {
      ctx.notify({ stream: 'stdout', data: 'hel' })
      ctx.notify({ stream: 'stderr', data: 'warn: x\n' })
      ctx.notify({ stream: 'stdout', data: 'lo\nwor' })
      ctx.notify({ stream: 'stdout', data: 'ld\n' })
      return end()
    })
    node.calls.length = 0
    const r = await cli(node, ['logs', 'hostB', 'm-42'])
    assert.equal(r.code, 0)
    assert.deepEqual(node.calls[0].params, { target: 'hostB', managedId: 'm-42', follow: false })
    assert.equal(r.out(), 'hello\nworld\n')
    assert.equal(r.err(), 'warn: x\n[exited with code 3]\n')
  })

  it('flushes a last line without newline', async () => {
    node.handlers.set('logs', async (_params, ctx) => {
      ctx.notify({ stream: 'stdout', data: 'no newline' })
      return end({ exited: false, exitCode: null })
    })
    const r = await cli(node, ['logs', 'hostB', 'm-42'])
    assert.equal(r.out(), 'no newline\n')
    assert.equal(r.err(), '') // still running: no exit line
  })

  it('reports a kill by signal and dropped output', async () => {
    node.handlers.set('logs', async () => end({ exitCode: null, signal: 'SIGTERM', truncated: true }))
    const r = await cli(node, ['logs', 'hostB', 'm-42'])
    assert.match(r.err(), /earlier output was dropped/)
    assert.match(r.err(), /\[killed by SIGTERM\]\n$/)
  })

  it('--json prints newline-delimited chunks and a final status', async () => {
    node.handlers.set('logs', async (_params, ctx) => {
      ctx.notify({ stream: 'stdout', data: 'a\nb' })
      ctx.notify({ stream: 'stderr', data: 'oops\n' })
      return end({ exitCode: 0 })
    })
    const r = await cli(node, ['logs', 'hostB', 'm-42', '--json'])
    assert.equal(r.code, 0)
    const docs = r.out().trimEnd().split('\n').map(parseJson)
    assert.deepEqual(docs, [
      { stream: 'stdout', data: 'a\nb' },
      { stream: 'stderr', data: 'oops\n' },
      { exited: true, exitCode: 0, signal: null, truncated: false }
    ])
    assert.equal(r.err(), '')
  })

  it('--follow streams until the process exits', async () => {
    const c = capture()
    let sawFirst = false
    node.handlers.set('logs', async (_params, ctx) => {
      ctx.notify({ stream: 'stdout', data: 'tick 1\n' })
      sawFirst = await waitFor(() => c.out().includes('tick 1'))
      ctx.notify({ stream: 'stdout', data: 'tick 2\n' })
      return end({ exitCode: 0 })
    })
    node.calls.length = 0
    const code = await runCommand(['logs', 'hostB', 'm-42', '--follow', '--home', node.home], c.io({}))
    assert.equal(code, 0)
    assert.ok(sawFirst, 'the first chunk was not printed while following')
    assert.equal((node.calls[0].params as { follow: boolean }).follow, true)
    assert.equal(c.out(), 'tick 1\ntick 2\n')
    assert.equal(c.err(), '[exited with code 0]\n')
  })

  it('Ctrl-C during --follow closes the connection and exits 0', async () => {
    const c = capture()
    let closed = false
    node.handlers.set('logs', async (_params, ctx) => {
      ctx.notify({ stream: 'stdout', data: 'partial line' })
      ctx.notify({ stream: 'stdout', data: ' done\nnext' })
      await ctx.closed
      closed = true
      return end()
    })
    const listenersBefore = process.listenerCount('SIGINT')
    const running = runCommand(['logs', 'hostB', 'm-42', '-f', '--home', node.home], c.io({}))
    assert.ok(await waitFor(() => c.out().includes('partial line done')))
    assert.equal(process.listenerCount('SIGINT'), listenersBefore + 1)
    process.emit('SIGINT', 'SIGINT')
    assert.equal(await running, 0)
    assert.ok(await waitFor(() => closed), 'the node did not see the client go')
    assert.equal(c.out(), 'partial line done\nnext\n')
    assert.equal(c.err(), '')
    assert.equal(process.listenerCount('SIGINT'), listenersBefore)
  })

  it('NOT_FOUND from the node exits 1', async () => {
    node.handlers.set('logs', async () => { throw new ProcmeshError('NOT_FOUND', 'no managed process m-9 on hostB') })
    const r = await cli(node, ['logs', 'hostB', 'm-9'])
    assert.equal(r.code, 1)
    assert.equal(r.err(), 'procmesh logs: no managed process m-9 on hostB\n')
  })

  it('a malformed id is a usage error', async () => {
    const r = await cli(node, ['logs', 'hostB', '../etc/passwd'])
    assert.equal(r.code, 2)
    assert.match(r.err(), /ID: not a managed id/)
  })
})

describe('without a node', () => {
  it('ps fails with exit 1 naming the missing node', async () => {
    const home = await mkdtemp(join(tmpdir(), 'pm-cli-none-'))
    try {
      const c = capture()
      const code = await runCommand(['ps', '--home', home], c.io({}))
      assert.equal(code, 1)
      assert.match(c.err(), /no node is running for home/)
    } finally {
      await rm(home, { recursive: true, force: true })
    }
  })

  it('the command list shows ps, run, kill and logs', async () => {
    const c = capture()
    assert.equal(await runCommand(['--help'], c.io({})), 0)
    for (const name of ['ps', 'run', 'kill', 'logs']) assert.match(c.out(), new RegExp(`^  ${name} `, 'm'))
  })

  it('`help ps` shows the options of ps, as `ps --help` does; `help nope` names the unknown command', async () => {
    const a = capture()
    assert.equal(await runCommand(['help', 'ps'], a.io({})), 0)
    const b = capture()
    assert.equal(await runCommand(['ps', '--help'], b.io({})), 0)
    assert.equal(a.out(), b.out())
    assert.match(a.out(), /--filter/)
    const c = capture()
    assert.equal(await runCommand(['help', 'nope'], c.io({})), 2)
    assert.match(c.err(), /procmesh help: unknown command "nope"/)
  })
})

describe('procmesh run on a group target', () => {
  let node: FakeNode
  const started = (peerId: string, name: string, pid: number): unknown => ({ peerId, name, managedId: `m-${pid}`, pid, startTime: 1_700_000_300_000 })
  const denied = { peerId: PEER_C, name: 'hostC', error: { code: 'FORBIDDEN', message: 'lacks the exec role on hostC' } }
  before(async () => { node = await startFakeNode() })
  after(async () => { await node.close() })

  it('prints one line per host as it answers, a summary, and exits 1 when a host refused', async () => {
    node.handlers.set('run', async (_params, ctx) => {
      const all = [started(PEER_A, 'hostA', 11), denied, started(PEER_B, 'hostB', 12)]
      for (const e of all) ctx.notify(e)
      return all
    })
    const r = await cli(node, ['run', 'tag:role=web', '--', 'sleep', '60'])
    assert.equal(r.code, 1)
    assert.equal(r.out(), 'hostA: started m-11 pid 11\nhostC: FORBIDDEN lacks the exec role on hostC\nhostB: started m-12 pid 12\n')
    assert.equal(r.err(), 'started on 2 of 3 hosts\n')
    const any = await cli(node, ['run', 'tag:role=web', '--any', '--', 'sleep', '60'])
    assert.equal(any.code, 0)
  })

  it('--json gives one entry per host; every host started -> exit 0', async () => {
    node.handlers.set('run', async () => [started(PEER_A, 'hostA', 11), started(PEER_B, 'hostB', 12)])
    const r = await cli(node, ['run', 'all', '--json', '--', 'true'])
    assert.equal(r.code, 0, r.err())
    const entries = parseJson(r.out()) as Array<{ name: string, pid: number }>
    assert.deepEqual(entries.map(e => [e.name, e.pid]), [['hostA', 11], ['hostB', 12]])
  })

  it('a host the view marks offline is listed but does not count against the exit code', async () => {
    const offline = { peerId: PEER_C, name: 'hostC', error: { code: 'PEER_OFFLINE', message: 'hostC is offline' } }
    node.handlers.set('run', async () => [started(PEER_A, 'hostA', 11), offline])
    const r = await cli(node, ['run', 'all', '--', 'true'])
    assert.equal(r.code, 0, r.err())
    assert.match(r.out(), /^hostC: PEER_OFFLINE/m)
    assert.equal(r.err(), 'started on 1 of 1 host (1 offline host skipped)\n')
    node.handlers.set('run', async () => [offline])
    assert.equal((await cli(node, ['run', 'all', '--', 'true'])).code, 1)
  })

  it('--any with one host is a usage error', async () => {
    const r = await cli(node, ['run', 'hostB', '--any', '--', 'true'])
    assert.equal(r.code, 2)
  })
})

describe('procmesh kill --filter', () => {
  let node: FakeNode
  const SELF_PEER = PEER_A
  before(async () => {
    node = await startFakeNode()
    node.handlers.set('id', async () => ({ peerId: SELF_PEER, name: 'hostA', addrs: [] }))
    node.handlers.set('ps', async () => [
      { peerId: PEER_A, name: 'hostA', collectedAt: 1, processes: [proc(21, { cmd: 'sleep 60' }), proc(process.pid, { cmd: 'procmesh kill all --filter sleep 60' })] },
      { peerId: PEER_B, name: 'hostB', collectedAt: 1, processes: [proc(31, { cmd: 'sleep 60' })] },
      FAIL_C
    ])
    node.handlers.set('kill', async params => {
      const p = params as { target: string, pid: number, signal: string }
      return { peerId: p.target, name: p.target === PEER_A ? 'hostA' : 'hostB', pid: p.pid, signal: p.signal, result: 'signalled', signalled: [p.pid] }
    })
  })
  after(async () => { await node.close() })

  it('--yes stops exactly the listed processes (never the CLI itself), with their start times; a host that failed to list makes it exit 1', async () => {
    node.calls.length = 0
    const r = await cli(node, ['kill', 'all', '--filter', 'sleep 60', '--yes', '--signal', 'KILL'])
    const kills = node.calls.filter(c => c.method === 'kill').map(c => c.params as { target: string, pid: number, startTime: number, signal: string })
    assert.deepEqual(kills.map(k => [k.target, k.pid, k.signal]).sort(), [[PEER_A, 21, 'KILL'], [PEER_B, 31, 'KILL']])
    assert.ok(kills.every(k => typeof k.startTime === 'number'))
    const psCall = node.calls.find(c => c.method === 'ps')
    assert.ok(psCall !== undefined)
    assert.equal((psCall.params as { filter: string }).filter, 'sleep 60')
    assert.match(r.out(), /hostA: pid 21 signalled \(KILL\)/)
    assert.match(r.out(), /hostB: pid 31 signalled \(KILL\)/)
    assert.match(r.err(), /hostC: TIMEOUT .*nothing stopped there/)
    assert.equal(r.code, 1)
  })

  it('--json gives per-host results', async () => {
    const r = await cli(node, ['kill', 'all', '--filter', 'sleep 60', '--yes', '--json'])
    const hosts = parseJson(r.out()) as Array<{ name: string, error?: unknown, processes: Array<{ pid: number, result?: string }> }>
    assert.deepEqual(hosts.map(h => [h.name, h.processes.map(p => `${p.pid}:${p.result ?? '-'}`).join(','), h.error !== undefined]),
      [['hostA', '21:signalled', false], ['hostB', '31:signalled', false], ['hostC', '', true]])
  })

  it('without --yes and without a terminal it refuses and stops nothing', async () => {
    node.calls.length = 0
    const r = await cli(node, ['kill', 'all', '--filter', 'sleep 60'])
    assert.equal(r.code, 1)
    assert.match(r.err(), /these 2 processes on 2 host\(s\)/)
    assert.match(r.err(), /stdin is not a terminal; add --yes/)
    assert.equal(node.calls.filter(c => c.method === 'kill').length, 0)
  })

  it('nothing matching exits 1 and says so', async () => {
    const saved = node.handlers.get('ps')
    node.handlers.set('ps', async () => [{ peerId: PEER_B, name: 'hostB', collectedAt: 1, processes: [] }])
    const r = await cli(node, ['kill', 'all', '--filter', 'nothing', '--yes'])
    if (saved !== undefined) node.handlers.set('ps', saved)
    assert.equal(r.code, 1)
    assert.match(r.err(), /no process matches "nothing"/)
  })

  const usage: Array<[string, string[], RegExp]> = [
    ['a pid with --filter', ['kill', 'all', '123', '--filter', 'x'], /give no PID/],
    ['--tree with --filter', ['kill', 'all', '--filter', 'x', '--tree'], /--tree and --grace go with a PID/],
    ['an empty --filter', ['kill', 'all', '--filter', ' '], /must not be empty/],
    ['--yes with a pid', ['kill', 'hostB', '5', '--yes'], /--yes goes with --filter/]
  ]
  for (const [name, args, message] of usage) {
    it(`${name} is a usage error (exit 2)`, async () => {
      node.calls.length = 0
      const r = await cli(node, args)
      assert.equal(r.code, 2, r.err())
      assert.match(r.err(), message)
      assert.equal(node.calls.length, 0)
    })
  }
})
