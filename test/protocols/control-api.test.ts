import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CONTROL_API, FAN_OUT_ANSWER_TIMEOUT_MS, KILL_TIMEOUT_MARGIN_MS, validatePsEntry } from '../../protocols/control-api.js'
import {
  CONTROL_METHODS, RPC_APP_ERROR, RPC_INVALID_PARAMS, RPC_INVALID_REQUEST, RPC_METHOD_NOT_FOUND, RPC_PARSE_ERROR,
  UnknownMethodError, procmeshErrorFrom, rpcErrorFrom
} from '../../protocols/control.js'
import { ProcmeshError, checkAnswer } from '../../protocols/errors.js'
import { ControlClient, type CallOptions, type ControlTransport } from '../../cli/control-client.js'

const PEER = '12D3KooWAbc'
const PROC = { pid: 5, ppid: 1, uid: 0, user: 'root', name: 'sleep', cmd: 'sleep 9', state: 'S', cpuPercent: 0, rss: 1024, startTime: 1 }

function rejects (f: () => unknown, field: RegExp): void {
  assert.throws(f, (err: unknown) => err instanceof ProcmeshError && err.code === 'INVALID_REQUEST' && field.test(err.message), String(field))
}

describe('control API: one descriptor per method', () => {
  it('covers every method name, under its own name', () => {
    const names = Object.values(CONTROL_API).map(m => m.name).sort()
    assert.deepEqual(names, Object.values(CONTROL_METHODS).sort())
    for (const [key, method] of Object.entries(CONTROL_API)) assert.equal(method.name, CONTROL_METHODS[key as keyof typeof CONTROL_METHODS])
  })

  it('gives ps the same default wait everywhere, longer than the node\'s fan-out', () => {
    assert.equal(CONTROL_API.ps.timeoutMs({ target: 'all' }), FAN_OUT_ANSWER_TIMEOUT_MS)
    assert.ok(FAN_OUT_ANSWER_TIMEOUT_MS > 10_000)
  })

  it('waits for a kill as long as its grace, plus a margin', () => {
    assert.equal(CONTROL_API.kill.timeoutMs({ target: 'x', pid: 5, graceMs: 5000 }), 5000 + KILL_TIMEOUT_MARGIN_MS)
    assert.equal(CONTROL_API.logs.timeoutMs({ target: 'x', managedId: 'm1', follow: true }), undefined)
  })
})

describe('control API: params the node accepts', () => {
  it('defaults the target to self and keeps only known fields', () => {
    assert.deepEqual(CONTROL_API.ps.validateParams(undefined), { target: 'self' })
    assert.deepEqual(CONTROL_API.ps.validateParams({ target: 'all', filter: 'nginx', streamed: true, extra: 1 }), { target: 'all', filter: 'nginx', streamed: true })
    assert.deepEqual(CONTROL_API.kill.validateParams({ target: 'a', pid: 7 }), { target: 'a', pid: 7, signal: 'TERM' })
    assert.deepEqual(CONTROL_API.logs.validateParams({ target: 'a', managedId: 'm-1' }), { target: 'a', managedId: 'm-1', follow: false })
    assert.equal(CONTROL_API.id.validateParams({}), undefined)
  })

  const bad: Array<[string, () => unknown, RegExp]> = [
    ['params not an object', () => CONTROL_API.ps.validateParams([1]), /^params:/],
    ['target too long', () => CONTROL_API.ps.validateParams({ target: 'x'.repeat(300) }), /^target:/],
    ['filter too long', () => CONTROL_API.ps.validateParams({ filter: 'x'.repeat(300) }), /^filter:/],
    ['streamed not a boolean', () => CONTROL_API.ps.validateParams({ streamed: 'yes' }), /^streamed:/],
    ['since negative', () => CONTROL_API.history.validateParams({ since: -1 }), /^since:/],
    ['empty argv', () => CONTROL_API.run.validateParams({ target: 'a', argv: [] }), /^argv:/],
    ['NUL in an argument', () => CONTROL_API.run.validateParams({ target: 'a', argv: ['a', 'b\u0000'] }), /^argv\[1\]:/],
    ['LD_PRELOAD', () => CONTROL_API.run.validateParams({ target: 'a', argv: ['a'], env: { LD_PRELOAD: 'x' } }), /^env\.LD_PRELOAD:/],
    ['bad request id', () => CONTROL_API.run.validateParams({ target: 'a', argv: ['a'], requestId: 'a b' }), /^requestId:/],
    ['pid not an integer', () => CONTROL_API.kill.validateParams({ target: 'a', pid: 1.5 }), /^pid:/],
    ['unknown signal', () => CONTROL_API.kill.validateParams({ target: 'a', pid: 5, signal: 'SEGV' }), /^signal:/],
    ['negative grace', () => CONTROL_API.kill.validateParams({ target: 'a', pid: 5, graceMs: -1 }), /^graceMs:/],
    ['bad managed id', () => CONTROL_API.logs.validateParams({ target: 'a', managedId: '../x' }), /^managedId:/],
    ['audit limit over the cap', () => CONTROL_API.audit.validateParams({ limit: 100_000 }), /^limit:/],
    ['trust add without role', () => CONTROL_API.trustAdd.validateParams({ peer: 'x' }), /^role:/],
    ['trust remove with an empty peer', () => CONTROL_API.trustRemove.validateParams({ peer: '' }), /^peer:/],
    ['invite with an unknown role', () => CONTROL_API.invite.validateParams({ role: 'root' }), /^role:/]
  ]
  for (const [name, f, field] of bad) it(`refuses ${name}, naming the field`, () => { rejects(f, field) })
})

describe('control API: answers every client checks', () => {
  it('turns a broken entry that names its peer into that peer\'s PROTOCOL_ERROR', () => {
    const entry = validatePsEntry({ peerId: PEER, name: 'b', collectedAt: 1, processes: [{ pid: 'x' }] })
    assert.ok('error' in entry)
    assert.equal(entry.error.code, 'PROTOCOL_ERROR')
    assert.match(entry.error.message, /processes\[0\]\.pid/)
  })

  it('reads an unknown error code as PROTOCOL_ERROR, never as success', () => {
    const entry = validatePsEntry({ peerId: PEER, name: 'b', error: { code: 'OK', message: 7 } })
    assert.deepEqual(entry, { peerId: PEER, name: 'b', error: { code: 'PROTOCOL_ERROR', message: 'no message' } })
  })

  it('makes a host\'s malformed history its PROTOCOL_ERROR, keeping the others', () => {
    const good = { peerId: PEER, name: 'a', history: { intervalMs: 1000, memTotal: 1, points: [{ at: 1, cpuPercent: 1, memUsed: 1, load1: 0, procCount: 1 }] } }
    const [a, b] = CONTROL_API.history.validateResult([good, { peerId: 'p2', name: 'b', history: { intervalMs: 1000, memTotal: 1, points: [{ at: 'x' }] } }])
    assert.deepEqual(a, good)
    assert.ok('error' in b && b.error.code === 'PROTOCOL_ERROR')
  })

  it('throws on an entry that names no peer', () => {
    assert.throws(() => CONTROL_API.ps.validateResult([{ name: 'x' }]), /result\[0\]\.peerId/)
  })

  it('accepts what the node sends and nothing looser', () => {
    assert.deepEqual(CONTROL_API.run.validateResult({ peerId: PEER, name: 'a', managedId: 'm1', pid: 9, startTime: 2 }), { peerId: PEER, name: 'a', managedId: 'm1', pid: 9, startTime: 2 })
    assert.throws(() => CONTROL_API.run.validateResult({ peerId: PEER, name: 'a', managedId: 'm1', pid: 0, startTime: 2 }), /result\.pid/)
    assert.throws(() => CONTROL_API.kill.validateResult({ peerId: PEER, name: 'a', pid: 9, signal: 'TERM', result: 'maybe' }), /result\.result/)
    assert.throws(() => CONTROL_API.trustAdd.validateResult({ peerId: PEER, name: null, role: 'root' }), /result\.role/)
    assert.throws(() => CONTROL_API.peers.validateResult([{ peerId: PEER }]), /result\[0\]\.name/)
  })
})

/** A transport answering from a table, recording what it was asked. */
class TableTransport implements ControlTransport {
  readonly asked: Array<{ method: string, params: unknown, opts: CallOptions }> = []
  constructor (private readonly answer: (method: string, opts: CallOptions) => unknown) {}
  async call (method: string, params: unknown, opts: CallOptions): Promise<unknown> {
    this.asked.push({ method, params, opts })
    return this.answer(method, opts)
  }

  onClose (): void {}
  close (): void {}
}

describe('ControlClient: one typed method per call', () => {
  it('reports a malformed answer as PROTOCOL_ERROR naming the method and the field', async () => {
    const client = new ControlClient(new TableTransport(() => ({ peerId: PEER, name: 'a', managedId: 'm1', pid: 'nine', startTime: 2 })))
    await assert.rejects(client.run({ target: 'a', argv: ['sleep', '1'] }), (err: unknown) =>
      err instanceof ProcmeshError && err.code === 'PROTOCOL_ERROR' && /^run: bad answer from the node: result\.pid/.test(err.message))
  })

  it('passes the method\'s default timeout, the caller\'s, or none', async () => {
    const t = new TableTransport(() => [])
    const client = new ControlClient(t)
    await client.ps({ target: 'all' })
    await client.ps({ target: 'all' }, { timeoutMs: 500 })
    await client.ps({ target: 'all' }, { timeoutMs: false })
    assert.deepEqual(t.asked.map(a => a.opts.timeoutMs), [FAN_OUT_ANSWER_TIMEOUT_MS, 500, undefined])
    assert.deepEqual(t.asked.map(a => a.method), ['ps', 'ps', 'ps'])
  })

  it('validates each notification: good ones to onData, bad ones to onMalformed', async () => {
    const entry = { peerId: PEER, name: 'a', collectedAt: 1, processes: [PROC] }
    const client = new ControlClient(new TableTransport((_m, opts) => {
      opts.onData?.(entry)
      opts.onData?.('junk')
      return [entry]
    }))
    const seen: string[] = []
    const bad: string[] = []
    const result = await client.ps({ target: 'all' }, { onData: e => { seen.push(e.peerId) }, onMalformed: err => { bad.push(err.code) } })
    assert.deepEqual(seen, [PEER])
    assert.deepEqual(bad, ['PROTOCOL_ERROR'])
    assert.deepEqual(result, [entry])
  })
})

describe('control API errors: told apart by code', () => {
  const roundTrip = (err: ProcmeshError): ProcmeshError => procmeshErrorFrom(JSON.parse(JSON.stringify(rpcErrorFrom(err))))

  it('maps each error to its JSON-RPC code and back with its own code', () => {
    const table: Array<[ProcmeshError, number]> = [
      [new ProcmeshError('INVALID_REQUEST', 'pid: expected an integer'), RPC_INVALID_PARAMS],
      [new UnknownMethodError('unknown method "nope"'), RPC_METHOD_NOT_FOUND],
      [new ProcmeshError('NOT_FOUND', 'unknown method-like words in a NOT_FOUND'), RPC_APP_ERROR],
      [new ProcmeshError('FORBIDDEN', 'missing role control'), RPC_APP_ERROR],
      [new ProcmeshError('PROTOCOL_ERROR', 'bad answer'), RPC_APP_ERROR]
    ]
    for (const [err, rpc] of table) {
      assert.equal(rpcErrorFrom(err).code, rpc, err.message)
      const back = roundTrip(err)
      assert.equal(back.code, err.code)
      assert.equal(back.message, err.message)
      assert.equal(back instanceof UnknownMethodError, err instanceof UnknownMethodError, err.message)
    }
  })

  it('reads a foreign or broken error object by its code only', () => {
    assert.equal(procmeshErrorFrom('junk').code, 'PROTOCOL_ERROR')
    assert.equal(procmeshErrorFrom({ code: RPC_PARSE_ERROR, message: 'parse error' }).code, 'INVALID_REQUEST')
    assert.equal(procmeshErrorFrom({ code: RPC_INVALID_REQUEST, message: 'x' }).code, 'INVALID_REQUEST')
    assert.ok(procmeshErrorFrom({ code: RPC_METHOD_NOT_FOUND, message: 'x' }) instanceof UnknownMethodError)
    assert.equal(procmeshErrorFrom({ code: RPC_APP_ERROR, message: 'x', data: { code: 'NOPE' } }).code, 'SERVER_ERROR')
  })

  it('checkAnswer makes a failed check of an answer the remote\'s PROTOCOL_ERROR', () => {
    assert.throws(() => checkAnswer(() => CONTROL_API.run.validateResult({}), 'run: bad answer'),
      (err: unknown) => err instanceof ProcmeshError && err.code === 'PROTOCOL_ERROR' && /^run: bad answer: result\.peerId/.test(err.message))
    assert.equal(checkAnswer(() => 5), 5)
  })
})
