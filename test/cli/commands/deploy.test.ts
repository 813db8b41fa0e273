import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { deployParams, formatDeployments, parseReplicas } from '../../../cli/commands/deploy.js'
import { formatLs, withDeployments } from '../../../cli/commands/ls.js'
import { UsageError } from '../../../cli/args.js'
import type { DeploymentStatus } from '../../../protocols/deploy.js'
import type { ManagedProcess } from '../../../protocols/managed.js'

describe('procmesh deploy: flags', () => {
  it('builds the request from the flags', () => {
    assert.deepEqual(deployParams('web', { on: 'tag:role=web', replicas: '3', restart: 'on-failure', env: ['A=1'] }, ['sleep', '9']), {
      name: 'web', argv: ['sleep', '9'], selector: 'tag:role=web', replicas: 3, restart: 'on-failure', env: { A: '1' }
    })
    assert.equal(deployParams('web', { on: 'all', replicas: 'every' }, ['x']).replicas, 'every')
  })
  it('each mistake is a usage error naming the flag', () => {
    const cases: Array<[Record<string, string | string[]>, string[], RegExp]> = [
      [{ replicas: '2' }, ['x'], /--on SELECTOR is required/],
      [{ on: 'all' }, ['x'], /--replicas N\|every is required/],
      [{ on: 'all', replicas: '0' }, ['x'], /--replicas: a number 1\.\.4096 or every/],
      [{ on: 'all', replicas: 'many' }, ['x'], /--replicas/],
      [{ on: 'all', replicas: '1' }, [], /missing the command/],
      [{ on: 'all', replicas: '1', restart: 'sometimes' }, ['x'], /--restart: one of no, on-failure, always/],
      [{ on: 'tag:role', replicas: '1' }, ['x'], /expected tag:KEY=VALUE/],
      [{ on: 'all', replicas: '1', env: ['LD_PRELOAD=/x'] }, ['x'], /env\.LD_PRELOAD: may not be set remotely/]
    ]
    for (const [values, rest, re] of cases) {
      assert.throws(() => deployParams('web', values, rest), (err: unknown) => err instanceof UsageError && re.test(err.message), JSON.stringify(values))
    }
    assert.throws(() => parseReplicas(undefined), UsageError)
  })
})

describe('procmesh deployments: table', () => {
  const d: DeploymentStatus = {
    name: 'web', version: 3, hash: 'a'.repeat(64), author: 'P', issuedAt: 0, argv: ['sleep', '100'], selector: 'tag:role=web',
    replicas: 3, spread: 1, restart: 'always', desired: 3, running: 2, old: 0, here: 'no-match',
    placed: [{ host: 'web1', peerId: 'P1', slot: 1, copy: 'web-v3-1', state: 'running' }, { host: 'web2', peerId: 'P2', slot: 1, copy: 'web-v3-1', state: 'starting' }],
    problems: ['only 2 of 3 replicas can be placed: 3 live host(s) match tag:role=web, 1 of them refuse the spec, at most one per host', 'web3\u001b[2J refuses it: the author lacks the exec role in its trust']
  }
  it('shows desired vs running, where each replica is and why one cannot be placed, remote text escaped', () => {
    const text = formatDeployments([d])
    const lines = text.split('\n')
    assert.match(lines[0], /^web v3 {2}2\/3 running {2}on tag:role=web {2}replicas 3 {2}restart always {2}cmd sleep 100$/)
    assert.match(lines[1], /^ {2}HOST +COPY +STATE$/)
    assert.match(lines[2], /^ {2}web1 +web-v3-1 +running$/)
    assert.match(lines[3], /^ {2}web2 +web-v3-1 +starting$/)
    assert.match(lines[4], /^ {2}! only 2 of 3 replicas can be placed/)
    assert.ok(!text.includes('\u001b'), 'no raw escape from a remote name reaches the terminal')
    assert.equal(formatDeployments([]), 'no deployments')
  })
})

describe('procmesh ls: the deployment of a copy', () => {
  const row: ManagedProcess = {
    managedId: 'mabc', name: 'web-v3-1', argv: ['sleep', '1'], pid: 42, startTime: 1000, state: 'running',
    policy: { restart: 'always', maxRestarts: 10, backoffMs: 100, backoffMaxMs: 60_000 }, restarts: 0, requestedBy: 'p',
    lastExit: null, nextRestartAt: null, cpuPercent: null, rss: null
  }
  it('adds a DEPLOYMENT column when a row is a copy, and `deployment` in --json', () => {
    const entries = [{ peerId: 'P1', name: 'web1', processes: [row, { ...row, managedId: 'mdef', name: 'api' }] }]
    const lines = formatLs(entries, 2000).split('\n')
    assert.match(lines[0], /^NAME +DEPLOYMENT +ID +HOST/)
    assert.match(lines[1], /^web-v3-1 +web +mabc +web1/)
    assert.match(lines[2], /^api +- +mdef +web1/)
    const json = JSON.parse(JSON.stringify(withDeployments(entries))) as Array<{ processes: Array<{ deployment: string | null }> }>
    assert.deepEqual(json[0].processes.map(p => p.deployment), ['web', null])
  })
})
