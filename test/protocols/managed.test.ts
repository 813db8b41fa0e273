import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidFieldError } from '../../protocols/errors.js'
import {
  BACKOFF_JITTER, backoffDelay, findManaged, validateManagedName, validateManagedProcess, validateRestartPolicy, wantsRestart,
  type ManagedProcess
} from '../../protocols/managed.js'
import { MANAGED, REMOVE, RESTART, START, STOP } from '../../protocols/messages.js'

const base: ManagedProcess = {
  managedId: 'mabc', name: 'api', argv: ['sleep', '1'], pid: 10, startTime: 5, state: 'running',
  policy: { restart: 'no', maxRestarts: 10, backoffMs: 100, backoffMaxMs: 60_000 }, restarts: 0, requestedBy: 'p',
  lastExit: null, nextRestartAt: null, cpuPercent: null, rss: null
}

describe('managed names', () => {
  it('accepts names that start with a letter', () => {
    for (const ok of ['api', 'web-1', 'Worker_2', 'a'.repeat(63)]) assert.equal(validateManagedName(ok), ok)
  })
  it('refuses each bad name with the reason', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['', /a name starts with a letter/],
      ['1web', /a name starts with a letter/],
      ['8080', /a name starts with a letter/],
      ['web.1', /a name starts with a letter/],
      ['we b', /a name starts with a letter/],
      ['a'.repeat(64), /longer than 63 bytes/],
      ['mmx1gudxp0hyjngpx2i', /looks like a managed id/],
      [42, /expected a string/]
    ]
    for (const [value, reason] of cases) {
      assert.throws(() => validateManagedName(value), (err: unknown) => err instanceof InvalidFieldError && reason.test(err.message), String(value))
    }
  })
})

describe('restart policies', () => {
  it('fills defaults and refuses out-of-range values naming the field', () => {
    assert.deepEqual(validateRestartPolicy({ restart: 'always' }), { restart: 'always', maxRestarts: 10, backoffMs: 100, backoffMaxMs: 60_000 })
    const bad: Array<[unknown, RegExp]> = [
      [{ restart: 'sometimes' }, /policy\.restart/],
      [{ restart: 'always', maxRestarts: -1 }, /policy\.maxRestarts: must be >= 0/],
      [{ restart: 'always', backoffMs: 0 }, /policy\.backoffMs: must be >= 10/],
      [{ restart: 'always', backoffMs: 5000, backoffMaxMs: 1000 }, /policy\.backoffMaxMs: must be >= backoffMs/],
      [{ restart: 'always', backoffMs: 1.5 }, /policy\.backoffMs: expected an integer/]
    ]
    for (const [value, reason] of bad) assert.throws(() => validateRestartPolicy(value), reason)
  })

  it('decides restarts: no never, always always, on-failure unless exit 0 was seen', () => {
    const table: Array<[Parameters<typeof wantsRestart>[0], Parameters<typeof wantsRestart>[1], boolean]> = [
      ['no', { code: 1, signal: null, unknown: false }, false],
      ['always', { code: 0, signal: null, unknown: false }, true],
      ['on-failure', { code: 0, signal: null, unknown: false }, false],
      ['on-failure', { code: 2, signal: null, unknown: false }, true],
      ['on-failure', { code: null, signal: 'SIGKILL', unknown: false }, true],
      ['on-failure', { code: null, signal: null, unknown: true }, true]
    ]
    for (const [policy, exit, want] of table) assert.equal(wantsRestart(policy, exit), want, `${policy} ${JSON.stringify(exit)}`)
  })

  it('doubles the delay per unstable run, caps it, and jitters within the bound', () => {
    const p = { backoffMs: 100, backoffMaxMs: 1000 }
    assert.deepEqual([1, 2, 3, 4, 5, 50].map(n => backoffDelay(p, n, 0.5)), [100, 200, 400, 800, 1000, 1000])
    assert.equal(backoffDelay(p, 1, 0), 100 * (1 - BACKOFF_JITTER))
    assert.equal(backoffDelay(p, 1, 1), 100 * (1 + BACKOFF_JITTER))
    assert.equal(backoffDelay(p, 4, 1), 960)
    assert.equal(backoffDelay(p, 5, 1), 1000, 'jitter never exceeds the cap')
    assert.equal(backoffDelay({ backoffMs: 10, backoffMaxMs: 10 }, 1, 0), 10, 'never below the minimum')
  })
})

describe('managed records and references', () => {
  it('resolves a managed id, then a name, then a running pid, then a pid that was', () => {
    const records = [{ ...base, managedId: 'm1', name: 'x', pid: 7, state: 'exited' as const }, { ...base, managedId: 'm2', name: 'm1', pid: 7 }, { ...base, managedId: 'm3', name: null, pid: 8, state: 'stopped' as const }]
    assert.equal(findManaged(records, 'm1')?.managedId, 'm1', 'an id wins over a name')
    assert.equal(findManaged(records, 'x')?.managedId, 'm1')
    assert.equal(findManaged(records, '7')?.managedId, 'm2', 'the running one with that pid')
    assert.equal(findManaged(records, '8')?.managedId, 'm3')
    assert.equal(findManaged(records, '9'), undefined)
    assert.equal(findManaged(records, 'nope'), undefined)
  })
  it('validates a listed record and refuses a bad one naming the field', () => {
    assert.deepEqual(validateManagedProcess(base, 'p'), base)
    assert.throws(() => validateManagedProcess({ ...base, state: 'zombie' }, 'p[0]'), /p\[0\]\.state/)
    assert.throws(() => validateManagedProcess({ ...base, lastExit: { code: 'x' } }, 'p[0]'), /p\[0\]\.lastExit\.code/)
  })
})

describe('mesh messages of supervision', () => {
  it('start carries a name and a policy, validated', () => {
    const req = START.validateRequest({ type: 'start', requestId: 'r1', argv: ['true'], name: 'api', policy: { restart: 'on-failure', maxRestarts: 3 } })
    assert.equal(req.name, 'api')
    assert.equal(req.policy?.maxRestarts, 3)
    assert.throws(() => START.validateRequest({ type: 'start', requestId: 'r1', argv: ['true'], name: '9lives' }), /name: "9lives"/)
    assert.throws(() => START.validateRequest({ type: 'start', requestId: 'r1', argv: ['true'], policy: { restart: 'maybe' } }), /policy\.restart/)
  })
  it('managed, restart and remove validate their requests and results', () => {
    assert.deepEqual(MANAGED.validateRequest({ type: 'managed' }), { type: 'managed' })
    assert.throws(() => MANAGED.validateRequest({ type: 'restart' }), /unknown message type/)
    assert.deepEqual(RESTART.validateRequest({ type: 'restart', ref: 'api' }), { type: 'restart', ref: 'api' })
    assert.throws(() => RESTART.validateRequest({ type: 'restart', ref: '../x' }), /ref: does not match/)
    assert.throws(() => REMOVE.validateRequest({ type: 'remove' }), /ref: expected a string/)
    assert.equal(RESTART.role, 'exec')
    assert.equal(REMOVE.role, 'control')
    assert.equal(MANAGED.role, 'read')
    assert.deepEqual(REMOVE.validateResult({ managedId: 'm1', name: null, stopped: true }), { managedId: 'm1', name: null, stopped: true })
    assert.throws(() => MANAGED.validateResult({ processes: [{ ...base, pid: -1 }] }), /result\.processes\[0\]\.pid/)
  })
  it('a stop result may say it escalated; older nodes leave it out', () => {
    assert.equal(STOP.validateResult({ pid: 5, signal: 'TERM', result: 'signalled', signalled: [5], escalated: true }).escalated, true)
    assert.equal(STOP.validateResult({ pid: 5, signal: 'TERM', result: 'signalled', signalled: [5] }).escalated, undefined)
    assert.throws(() => STOP.validateResult({ pid: 5, signal: 'TERM', result: 'signalled', signalled: [5], escalated: 'yes' }), /result\.escalated/)
  })
})
