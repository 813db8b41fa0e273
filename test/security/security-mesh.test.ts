/**
 * A private, authorised mesh of real nodes (child processes on 127.0.0.1, --no-mdns):
 * a first node makes a mesh, invite/join adds hosts, members hold read, grants and
 * revocations apply without restarts, strangers cannot connect, start policy and
 * --readonly refuse, and every decision is in the audit log. No keys in logs or JSON.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AuditEntry } from '../../protocols/audit.js'
import { LocalNode, removeHome, runCli, tempHome, waitFor, type CliResult } from '../helpers/procmesh.js'
import { readSwarmKey, writeSwarmKey } from '../../node/security/swarm-key.js'
import type { AuditTargetEntry, TrustListResult } from '../../node/security/security.js'

/** `procmesh CMD --home HOME ARGS...`: --home before `--`, which belongs to the started command. */
async function cli (node: LocalNode, args: string[]): Promise<CliResult> {
  return await runCli([args[0], '--home', node.home, ...args.slice(1)])
}

function errorCode (r: CliResult): string | undefined {
  try { return (JSON.parse(r.stdout) as { error?: { code?: string } }).error?.code } catch { return undefined }
}

async function auditOf (node: LocalNode, target?: string): Promise<AuditEntry[]> {
  const r = await cli(node, ['audit', ...(target !== undefined ? [target] : []), '--json', '--limit', '1000'])
  assert.equal(r.code, 0, r.stderr)
  const parsed = JSON.parse(r.stdout) as AuditTargetEntry[]
  assert.equal(parsed.length, 1)
  const first = parsed[0]
  assert.ok('entries' in first, JSON.stringify(first))
  return first.entries
}

/** A run that got past authorisation and started. */
function assertAuthorised (r: CliResult, what: string): void {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`)
}

describe('a private mesh: invite, join, roles, policy, readonly, audit', { timeout: 180_000 }, () => {
  let alpha: LocalNode
  let beta: LocalNode
  let gamma: LocalNode
  let stranger: LocalNode
  let alphaId: string
  let betaId: string
  let gammaId: string
  let token: string
  let victim: ChildProcess | undefined
  const homes: string[] = []

  before(async () => {
    alpha = new LocalNode(await tempHome(), 'alpha', { sharedMesh: false })
    beta = new LocalNode(await tempHome(), 'beta', { sharedMesh: false })
    gamma = new LocalNode(await tempHome(), 'gamma', { sharedMesh: false })
    stranger = new LocalNode(await tempHome(), 'stranger', { sharedMesh: false })
    homes.push(alpha.home, beta.home, gamma.home, stranger.home)
    await alpha.start()
    alphaId = (await alpha.id()).peerId
  })

  after(async () => {
    victim?.kill('SIGKILL')
    for (const n of [alpha, beta, gamma, stranger]) await n?.stop()
    for (const h of homes) await removeHome(h)
  })

  it('a first node with no swarm.key creates a new mesh: 0600, standard format, named by fingerprint only', async () => {
    const file = join(alpha.home, 'swarm.key')
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const text = await readFile(file, 'utf8')
    assert.match(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
    assert.match(alpha.log, /created a new mesh [0-9a-f]{8}/)
  })

  it('invite prints the token alone on the last line; join needs no node; the joined node finds the inviter and claims its grant', async () => {
    const inv = await cli(alpha, ['invite', '--role', 'exec'])
    assert.equal(inv.code, 0, inv.stderr)
    const lines = inv.stdout.trim().split('\n')
    token = lines[lines.length - 1]
    assert.match(token, /^pmj1\.[A-Za-z0-9_-]+\.[0-9a-f]{8}$/)
    assert.match(inv.stdout, /alpha becomes an admin of the joining node/)

    const joined = await cli(beta, ['join', token])
    assert.equal(joined.code, 0, joined.stderr)
    assert.match(joined.stdout, /joined mesh [0-9a-f]{8}/)
    assert.match(joined.stdout, /will claim the exec role on alpha/)
    assert.match(joined.stdout, /start the node/)
    assert.equal(await readSwarmKey(join(beta.home, 'swarm.key')), await readSwarmKey(join(alpha.home, 'swarm.key')))

    // no --bootstrap: the token's addresses are dialled
    await beta.start()
    betaId = (await beta.id()).peerId
    await waitFor(async () => (await alpha.peers()).some(p => p.peerId === betaId && p.status === 'online'), { timeoutMs: 20_000, what: 'alpha to see beta' })
    const trust = await waitFor(async () => {
      const r = await cli(alpha, ['trust', 'list', '--json'])
      const list = JSON.parse(r.stdout) as TrustListResult
      return list.peers.find(p => p.peerId === betaId && p.role === 'exec') !== undefined ? list : undefined
    }, { timeoutMs: 15_000, what: 'beta to claim exec on alpha' })
    assert.equal(trust.invites.length, 0, 'the grant is single use')
    const betaTrust = JSON.parse((await cli(beta, ['trust', 'list', '--json'])).stdout) as TrustListResult
    assert.deepEqual(betaTrust.peers.map(p => [p.peerId, p.role, p.source]), [[alphaId, 'exec', 'join']])
    assert.equal(betaTrust.claims.length, 0)
    assert.ok((await auditOf(alpha)).some(e => e.event === 'claim' && e.peerId === betaId && e.decision === 'allowed' && e.role === 'exec'))

    // a second use of the same token joins the mesh but the grant is gone
    const again = await cli(gamma, ['join', token])
    assert.equal(again.code, 0, again.stderr)
  })

  it('the admin may run and kill on the joined node, the joined node may run on the inviter; allowed decisions are audited with results', async () => {
    assertAuthorised(await cli(beta, ['run', 'alpha', '--', 'true']), 'beta on alpha')
    const run = await cli(alpha, ['run', 'beta', '--json', '--', 'sleep', '600'])
    assertAuthorised(run, 'alpha on beta')
    const { pid } = JSON.parse(run.stdout) as { pid: number }
    const kill = await cli(alpha, ['kill', 'beta', String(pid), '--json'])
    assert.equal(kill.code, 0, kill.stderr)
    await waitFor(() => { try { process.kill(pid, 0); return false } catch { return true } }, { timeoutMs: 5000, what: 'the sleep to end' })

    const onAlpha = (await auditOf(alpha)).find(e => e.event === 'start' && e.peerId === betaId)
    assert.ok(onAlpha !== undefined)
    assert.equal(onAlpha.decision, 'allowed')
    assert.match(onAlpha.reason, /holds exec/)
    assert.match(onAlpha.result ?? '', /^started pid \d+ \(managed id [A-Za-z0-9_-]+\)$/)
    const onBeta = await auditOf(beta)
    const start = onBeta.find(e => e.event === 'start' && e.peerId === alphaId)
    assert.deepEqual([start?.decision, start?.name, start?.argv, start?.result], ['allowed', 'alpha', ['sleep', '600'], `started pid ${pid} (managed id ${(JSON.parse(run.stdout) as { managedId: string }).managedId})`])
    const stop = onBeta.find(e => e.event === 'stop' && e.peerId === alphaId)
    assert.deepEqual([stop?.decision, stop?.pid, stop?.signal], ['allowed', pid, 'TERM'])
    assert.match(stop?.result ?? '', /^(signalled|exited)/)
  })

  it('a member with only read gets FORBIDDEN naming the role on run and kill; nothing started or signalled', async () => {
    // gamma used the token again: it is in the mesh, alpha is its admin, but it holds only read on alpha
    await gamma.start(['--bootstrap', (await alpha.id()).addrs[0]])
    gammaId = (await gamma.id()).peerId
    await waitFor(async () => (await gamma.peers()).some(p => p.peerId === alphaId && p.status === 'online'), { timeoutMs: 20_000, what: 'gamma to see alpha' })
    await waitFor(async () => {
      const list = JSON.parse((await cli(alpha, ['trust', 'list', '--json'])).stdout) as TrustListResult
      return list.peers.every(p => p.peerId !== gammaId)
    }, { timeoutMs: 2000, what: 'gamma not in alpha\'s trust file' })

    const run = await cli(gamma, ['run', 'alpha', '--json', '--', 'sleep', '31337'])
    assert.equal(run.code, 1)
    assert.equal(errorCode(run), 'FORBIDDEN')
    const runHuman = await cli(gamma, ['run', 'alpha', '--', 'sleep', '31337'])
    assert.equal(runHuman.code, 1)
    assert.match(runHuman.stderr, new RegExp(`forbidden: peer ${gammaId} \\(gamma\\) lacks the exec role on alpha`))
    const ps = await cli(gamma, ['ps', 'alpha', '--json'])
    assert.equal(ps.code, 0, 'read still works')
    const procs = (JSON.parse(ps.stdout) as Array<{ processes: Array<{ name: string, cmd: string }> }>)[0].processes
    const started = procs.filter(p => p.name === 'sleep' && p.cmd.includes('31337'))
    assert.deepEqual(started, [], 'nothing was started')

    victim = spawn('sleep', ['600'], { stdio: 'ignore' })
    const pid = victim.pid ?? 0
    await waitFor(async () => (await cli(alpha, ['ps', 'self', '--json'])).stdout.includes(`"pid":${pid},`), { timeoutMs: 10_000, what: 'alpha to see the victim' })
    const kill = await cli(gamma, ['kill', 'alpha', String(pid), '--signal', 'KILL'])
    assert.equal(kill.code, 1)
    assert.match(kill.stderr, new RegExp(`forbidden: peer ${gammaId} \\(gamma\\) lacks the control role on alpha`))
    assert.equal(victim.exitCode, null)
    assert.equal(victim.signalCode, null)
    assert.doesNotThrow(() => process.kill(pid, 0), 'the victim is alive')

    const audit = await auditOf(alpha)
    const start = audit.find(e => e.event === 'start' && e.peerId === gammaId)
    assert.ok(start !== undefined, 'the denied start is audited')
    assert.equal(start.name, 'gamma')
    assert.equal(start.via, 'mesh')
    assert.deepEqual(start.argv, ['sleep', '31337'])
    assert.equal(start.decision, 'denied')
    assert.match(start.reason, /lacks the exec role on alpha/)
    assert.equal(start.result, 'not started')
    assert.ok(start.time > Date.now() - 120_000 && start.time <= Date.now())
    const stop = audit.find(e => e.event === 'stop' && e.peerId === gammaId)
    assert.ok(stop !== undefined, 'the denied stop is audited')
    assert.equal(stop.pid, pid)
    assert.equal(stop.signal, 'KILL')
    assert.equal(stop.decision, 'denied')
    assert.match(stop.reason, /lacks the control role/)
    assert.equal(stop.result, 'not signalled')
  })

  it('trust add (by node name) grants exec without a restart; trust remove revokes it for the next request', async () => {
    // a name only shows the full peer id it resolves to; --yes (or the full id) confirms
    const unconfirmed = await cli(alpha, ['trust', 'add', 'gamma', '--role', 'exec'])
    assert.equal(unconfirmed.code, 1)
    assert.match(unconfirmed.stderr, new RegExp(`"gamma" is gamma \\(${gammaId}\\); to grant exec, repeat with the full peer id`))
    const add = await cli(alpha, ['trust', 'add', 'gamma', '--role', 'exec', '--yes'])
    assert.equal(add.code, 0, add.stderr)
    assert.match(add.stdout, new RegExp(`gamma \\(${gammaId}\\) now holds exec on this node`))
    assertAuthorised(await cli(gamma, ['run', 'alpha', '--', 'true']), 'gamma after trust add')

    const remove = await cli(alpha, ['trust', 'remove', 'gamma', '--yes'])
    assert.equal(remove.code, 0, remove.stderr)
    const denied = await cli(gamma, ['run', 'alpha', '--json', '--', 'true'])
    assert.equal(denied.code, 1)
    assert.equal(errorCode(denied), 'FORBIDDEN')
    // same session: gamma never lost its connection
    assert.ok((await gamma.peers()).some(p => p.peerId === alphaId && p.status === 'online'))
    const removeAgain = await cli(alpha, ['trust', 'remove', 'gamma', '--yes'])
    assert.equal(removeAgain.code, 1)
    assert.match(removeAgain.stderr, /has no entry in the trust file/)
    const trustEvents = (await auditOf(alpha)).filter(e => e.event === 'trust' && e.subject === gammaId)
    assert.deepEqual(trustEvents.map(e => e.role), ['exec', 'read'])
  })

  it('a start outside the start policy is refused naming the rule, even locally; the policy reloads without a restart', async () => {
    const policy = join(alpha.home, 'policy.json')
    try {
      await writeFile(policy, JSON.stringify({ start: 'allowlist', allow: [{ name: 'only-true', executable: 'true' }] }))
      const local = await cli(alpha, ['run', 'self', '--', 'sleep', '1'])
      assert.equal(local.code, 1)
      assert.match(local.stderr, /refused by start policy "allowlist" in .*policy\.json: "sleep" \(\/\S+\/sleep\) matches none of its allow rules \("only-true"\)/)
      const remote = await cli(beta, ['run', 'alpha', '--json', '--', 'sleep', '1'])
      assert.equal(errorCode(remote), 'REFUSED')
      assertAuthorised(await cli(beta, ['run', 'alpha', '--', 'true']), 'allowlisted true')
      await writeFile(policy, JSON.stringify({ start: 'any', deny: [{ name: 'no sleeping', executable: 'sleep' }] }))
      const deny = await cli(beta, ['run', 'alpha', '--', '/bin/sleep', '1'])
      assert.equal(deny.code, 1)
      assert.match(deny.stderr, /refused by start policy rule "no sleeping"/)
      const audited = (await auditOf(alpha)).filter(e => e.event === 'start' && e.decision === 'denied' && /start policy/.test(e.reason))
      assert.ok(audited.length >= 3)
    } finally {
      await rm(policy, { force: true })
    }
  })

  it('--readonly refuses every start and stop, whatever the trust file says', async () => {
    const delta = new LocalNode(await tempHome(), 'delta', { sharedMesh: false })
    homes.push(delta.home)
    try {
      const key = await readSwarmKey(join(alpha.home, 'swarm.key'))
      assert.ok(key !== undefined)
      await writeSwarmKey(join(delta.home, 'swarm.key'), key)
      // granted without a node running: the trust file is edited directly
      const grant = await cli(delta, ['trust', 'add', alphaId, '--role', 'exec'])
      assert.equal(grant.code, 0, grant.stderr)
      await delta.start(['--readonly', '--bootstrap', (await alpha.id()).addrs[0]])
      await waitFor(async () => (await alpha.peers()).some(p => p.name === 'delta' && p.status === 'online'), { timeoutMs: 20_000, what: 'alpha to see delta' })
      const local = await cli(delta, ['run', 'self', '--', 'true'])
      assert.equal(local.code, 1)
      assert.match(local.stderr, /delta is read-only \(--readonly\)/)
      const remote = await cli(alpha, ['run', 'delta', '--json', '--', 'true'])
      assert.equal(errorCode(remote), 'REFUSED')
      const kill = await cli(alpha, ['kill', 'delta', String(victim?.pid ?? 0)])
      assert.equal(kill.code, 1)
      assert.match(kill.stderr, /read-only/)
      assert.doesNotThrow(() => process.kill(victim?.pid ?? 0, 0), 'the victim is alive')
      const audit = await auditOf(delta)
      assert.ok(audit.filter(e => (e.event === 'start' || e.event === 'stop') && e.decision === 'denied' && /read-only/.test(e.reason)).length >= 3)
    } finally {
      await delta.stop()
    }
  })

  it('a node with a different key cannot connect: one clear log line, audited, never in the view', async () => {
    await stranger.start(['--bootstrap', (await alpha.id()).addrs[0]])
    await waitFor(() => /connection from \/ip4\/127\.0\.0\.1\/tcp\/\d+ failed the mesh key check \(different or no swarm key[;)]/.test(alpha.log), { timeoutMs: 15_000, what: 'the mesh key line in alpha\'s log' })
    assert.ok(!(await alpha.peers()).some(p => p.name === 'stranger'))
    assert.deepEqual((await stranger.peers()).map(p => p.name), ['stranger'])
    assert.ok(!/\n\s+at /.test(alpha.log), 'no stack trace in the log')
    const denied = (await auditOf(alpha)).filter(e => e.event === 'connection' && e.decision === 'denied')
    assert.ok(denied.some(e => e.peerId === null && /^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/.test(e.addr ?? '') && /mesh key/.test(e.reason)))
    // one line per host per minute, however often the stranger re-dials
    await new Promise(resolve => setTimeout(resolve, 3000))
    assert.equal(alpha.log.match(/failed the mesh key check/g)?.length, 1)
    // and alpha still serves its members
    assert.equal((await cli(beta, ['ps', 'alpha', '--json'])).code, 0)
  })

  it('a member reads another node\'s audit log over the mesh', async () => {
    const entries = await auditOf(gamma, 'alpha')
    assert.ok(entries.some(e => e.event === 'start' && e.peerId === gammaId))
    const human = await cli(gamma, ['audit', 'alpha'])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /^TIME\s+EVENT\s+PEER\s+DECISION/)
    assert.match(human.stdout, /start\s+gamma .*denied\s+sleep 31337\s+not started/)
  })

  it('keys and tokens appear in no log, no audit line and no --json output other than invite\'s', async () => {
    const key = await readSwarmKey(join(alpha.home, 'swarm.key'))
    assert.ok(key !== undefined)
    const secrets = [key, token, token.split('.')[1].slice(0, 40)]
    const outputs: string[] = [alpha.log, beta.log, gamma.log, stranger.log]
    for (const n of [alpha, beta, gamma]) {
      outputs.push((await cli(n, ['peers', '--json'])).stdout, (await cli(n, ['id', '--json'])).stdout, (await cli(n, ['trust', 'list', '--json'])).stdout)
      const audit = await readFile(join(n.home, 'audit.log'), 'utf8').catch(() => undefined)
      if (audit !== undefined) {
        outputs.push(audit)
        assert.equal((await stat(join(n.home, 'audit.log'))).mode & 0o777, 0o600)
      }
      assert.equal((await stat(join(n.home, 'trust.json'))).mode & 0o777, 0o600)
    }
    for (const out of outputs) {
      for (const s of secrets) assert.ok(!out.includes(s), 'a secret leaked into an output')
    }
  })
})
