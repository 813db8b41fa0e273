import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { UsageError } from '../../../cli/args.js'
import { formatKillResult, parseKillResult } from '../../../cli/commands/kill.js'
import { formatLs, parseLsEntry, printable } from '../../../cli/commands/ls.js'
import { parseBackoff, parsePolicy } from '../../../cli/commands/run.js'
import type { ManagedProcess } from '../../../protocols/managed.js'

describe('run --restart flags', () => {
  it('parses --backoff as a first delay or FIRST..MAX', () => {
    assert.deepEqual(parseBackoff('1s..60s'), { backoffMs: 1000, backoffMaxMs: 60_000 })
    assert.deepEqual(parseBackoff('10ms'), { backoffMs: 10, backoffMaxMs: 60_000 })
    assert.deepEqual(parseBackoff('2m'), { backoffMs: 120_000, backoffMaxMs: 120_000 })
    for (const bad of ['', '1s..', '..1s', '1s..2s..3s', 'soon', '5ms', '5s..1s', '2h']) {
      assert.throws(() => parseBackoff(bad), UsageError, bad)
    }
  })
  it('builds the policy from the flags and refuses flags without --restart', () => {
    assert.equal(parsePolicy({}), undefined)
    assert.deepEqual(parsePolicy({ restart: 'always', 'max-restarts': '3', backoff: '50ms..2s' }), { restart: 'always', maxRestarts: 3, backoffMs: 50, backoffMaxMs: 2000 })
    assert.deepEqual(parsePolicy({ restart: 'on-failure' }), { restart: 'on-failure', maxRestarts: 10, backoffMs: 100, backoffMaxMs: 60_000 })
    assert.throws(() => parsePolicy({ backoff: '1s' }), /go with --restart/)
    assert.throws(() => parsePolicy({ restart: 'sometimes' }), /--restart: one of no, on-failure, always/)
    assert.throws(() => parsePolicy({ restart: 'always', 'max-restarts': '-1' }), /--max-restarts/)
  })
})

describe('kill --grace reports escalation', () => {
  it('in JSON and in the human line; absent from an older node means false', () => {
    const r = parseKillResult({ peerId: 'p', name: 'b', pid: 9, signal: 'TERM', result: 'signalled', signalled: [9], escalated: true })
    assert.equal(r.escalated, true)
    assert.equal(formatKillResult(r), 'pid 9 on b: signalled (TERM); the grace period ran out: escalated to KILL')
    const old = parseKillResult({ peerId: 'p', name: 'b', pid: 9, signal: 'TERM', result: 'exited', signalled: [9] })
    assert.equal(old.escalated, false)
    assert.equal(formatKillResult(old), 'pid 9 on b: exited (TERM)')
  })
})

describe('procmesh ls output', () => {
  const now = 1_700_000_100_000
  const row: ManagedProcess = {
    managedId: 'mabc', name: 'api', argv: ['python3', '-m', 'http.server'], pid: 42, startTime: now - 125_000, state: 'running',
    policy: { restart: 'always', maxRestarts: 10, backoffMs: 100, backoffMaxMs: 60_000 }, restarts: 2, requestedBy: 'p',
    lastExit: { code: 1, signal: null, at: now - 130_000, whileDown: false }, nextRestartAt: null, cpuPercent: 1.5, rss: 10 * 1024 * 1024
  }
  it('prints the columns of the issue, one row per record, failed peers after', () => {
    const text = formatLs([
      { peerId: 'P1', name: 'web1', processes: [row, { ...row, managedId: 'mdef', name: null, state: 'crash-loop', lastExit: { code: null, signal: 'SIGSEGV', at: now, whileDown: false }, cpuPercent: null, rss: null }] },
      { peerId: 'P2', name: 'web2', error: { code: 'TIMEOUT', message: 'no answer' } }
    ], now)
    const lines = text.split('\n')
    assert.match(lines[0], /^NAME +ID +HOST +PID +STATE +RESTARTS +UPTIME +LAST EXIT +CPU +RSS +POLICY +COMMAND$/)
    assert.match(lines[1], /^api +mabc +web1 +42 +running +2 +2m05s +1 +1\.5% +10\.0M +always\/10 +python3 -m http\.server$/)
    assert.match(lines[2], /^- +mdef +web1 +- +crash-loop +2 +- +SIGSEGV +- +- +always\/10/)
    assert.equal(lines[3], 'web2: TIMEOUT: no answer')
  })
  it('shows remote text with control characters escaped', () => {
    assert.equal(printable('a\u001b]52;c;x\u0007b\nc'), 'a?]52;c;x?b?c')
  })
  it('turns a malformed peer entry into that peer\'s PROTOCOL_ERROR', () => {
    const e = parseLsEntry({ peerId: 'P', name: 'h', processes: [{ ...row, state: 'bogus' }] })
    assert.ok('error' in e)
    assert.equal(e.error.code, 'PROTOCOL_ERROR')
  })
})
