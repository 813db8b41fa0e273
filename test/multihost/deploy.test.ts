/**
 * Issue 13 across simulated hosts: a deployment keeps its copies running on the hosts its
 * selector names, moves a lost host's copy within seconds, converges back when it returns, is
 * refused (and audited) by a host that does not trust its author, survives a node restart
 * (adopted, specs from the home), rolls an update host by host, and stops everywhere on undeploy.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { AuditTargetEntry, LsEntry } from '../../protocols/control.js'
import type { DeployResult, DeploymentStatus } from '../../protocols/deploy.js'
import { parseCopyName } from '../../protocols/deploy.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimHost, type SimNet } from '../../testkit/sim-hosts.js'
import { cliIn, grantRoles, jsonIn, shareMeshKey, startNodeIn, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

/** A copy that runs until stopped, without output. */
const SERVICE = ['sh', '-c', 'while :; do sleep 1; done']

interface RunningCopy { host: string, name: string, version: number, pid: number }

/** Copies of `deployment` that every answering host reports running (asked from `from`). */
async function copiesRunning (from: SimHost, deployment: string): Promise<RunningCopy[]> {
  const entries = await jsonIn<LsEntry[]>(from, ['ls', 'all'], 30_000)
  const out: RunningCopy[] = []
  for (const e of entries) {
    if ('error' in e) continue
    for (const m of e.processes) {
      const p = parseCopyName(m.name)
      if (p?.deployment === deployment && m.state === 'running') out.push({ host: e.name, name: m.name ?? '', version: p.version, pid: m.pid })
    }
  }
  return out
}

describe('deployments on simulated hosts', { timeout: 600_000 }, () => {
  let net: SimNet | undefined
  const nodes = new Map<string, MeshNode>()
  let admin: SimHost
  let webs: SimHost[] = []
  let other: SimHost
  const tagsOf = new Map<string, string[]>()

  async function start (host: SimHost): Promise<void> {
    // generous: on a loaded 2-core machine a node's start-up has taken over 20 s
    nodes.set(host.name, await startNodeIn(host, tagsOf.get(host.name) ?? [], 60_000))
  }

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 5, prefix: 'pmd' })
    ;[admin, ...webs] = net.hosts
    other = webs.pop() as SimHost
    for (const w of webs) tagsOf.set(w.name, ['--tag', 'role=web'])
    await start(admin)
    await shareMeshKey(admin, net.hosts.slice(1))
    for (const h of net.hosts.slice(1)) await start(h)
    for (const host of net.hosts) {
      await waitFor(async () => {
        const peers = await jsonIn<Array<{ status: string }>>(host, ['peers'])
        return peers.length === 5 && peers.every(p => p.status === 'online') ? true : undefined
      }, { timeoutMs: 60_000, what: `${host.name} to see the whole mesh` })
    }
    // the web hosts let the admin's node start processes; the fifth host does not
    for (const w of webs) await grantRoles(w, admin, ['exec'])
  })
  after(async () => {
    for (const n of nodes.values()) await stopNode(n)
    await net?.destroy()
  })

  it('--replicas 2 on tag:role=web: exactly 2 copies, on web hosts; a lost host\'s copy moves within seconds; back to exactly 2 when it returns', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const r = await jsonIn<DeployResult>(admin, ['deploy', 'web', '--on', 'tag:role=web', '--replicas', '2', '--', ...SERVICE])
    assert.equal(r.version, 1)
    const webNames = webs.map(w => w.name)
    const first = await waitFor(async () => {
      const c = await copiesRunning(admin, 'web')
      return c.length === 2 ? c : undefined
    }, { timeoutMs: 30_000, what: '2 copies of web running' })
    for (const c of first) assert.ok(webNames.includes(c.host), `copy ${c.name} runs on a web host (${c.host})`)
    assert.notEqual(first[0].host, first[1].host, 'at most one copy per host')
    // it stays at 2 (no host starts an extra one)
    await new Promise(resolve => setTimeout(resolve, 3000))
    assert.equal((await copiesRunning(admin, 'web')).length, 2)

    const status = await jsonIn<DeploymentStatus[]>(admin, ['deployments'])
    assert.equal(status.length, 1)
    assert.equal(status[0].desired, 2)
    assert.equal(status[0].running, 2)
    assert.deepEqual(status[0].placed.map(p => p.host).sort(), first.map(c => c.host).sort())

    // lose one host running a copy: its node killed with -9 and its cable pulled
    const lostName = first[0].host
    const lost = webs.find(w => w.name === lostName) as SimHost
    const spare = webs.find(w => !first.some(c => c.host === w.name)) as SimHost
    const lostNode = nodes.get(lostName) as MeshNode
    const exited = new Promise<void>(resolve => { lostNode.proc.once('exit', () => { resolve() }) })
    const t0 = Date.now()
    lostNode.proc.kill('SIGKILL')
    await lost.linkDown()
    await exited
    const moved = await waitFor(async () => {
      const c = await copiesRunning(admin, 'web')
      return c.some(x => x.host === spare.name) ? c : undefined
    }, { timeoutMs: 30_000, intervalMs: 200, what: `the copy to run on ${spare.name}` })
    const elapsed = Date.now() - t0
    t.diagnostic(`host lost -> copy running on ${spare.name}: ${elapsed} ms`)
    assert.equal(moved.length, 2, `2 copies among the hosts still reachable: ${JSON.stringify(moved)}`)

    // the lost host returns (its copy survived its node); exactly 2 again, the extra one stopped
    await lost.linkUp()
    await start(lost)
    const back = await waitFor(async () => {
      const c = await copiesRunning(admin, 'web')
      return c.length === 2 && c.some(x => x.host === lostName) ? c : undefined
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'exactly 2 copies again, one on the returned host' })
    const adopted = back.find(x => x.host === lostName)
    assert.equal(adopted?.pid, first[0].pid, 'the returned host kept (adopted) its copy: same pid')
    await new Promise(resolve => setTimeout(resolve, 3000))
    assert.equal((await copiesRunning(admin, 'web')).length, 2, 'still exactly 2')
  })

  it('a node restart keeps its copies (adopted, same pid) and its specs (from its home, with no peer to sync from)', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const before = await copiesRunning(admin, 'web')
    assert.equal(before.length, 2)
    const host = webs.find(w => w.name === before[0].host) as SimHost
    await stopNode(nodes.get(host.name))
    await host.linkDown()
    try {
      await start(host)
      const seen = await waitFor(async () => {
        const s = await jsonIn<DeploymentStatus[]>(host, ['deployments'])
        return s.length === 1 ? s : undefined
      }, { timeoutMs: 20_000, what: `${host.name} to list the deployment from its home` })
      assert.equal(seen[0].name, 'web')
      const mine = await jsonIn<LsEntry[]>(host, ['ls'])
      const entry = mine[0]
      assert.ok(!('error' in entry))
      const copy = entry.processes.find(m => m.name === before[0].name)
      assert.equal(copy?.state, 'running')
      assert.equal(copy?.pid, before[0].pid, 'adopted, not restarted')
      // alone for longer than the settle time, it still runs exactly its own copy
      await new Promise(resolve => setTimeout(resolve, 4000))
      const again = await jsonIn<LsEntry[]>(host, ['ls'])
      const procs = 'error' in again[0] ? [] : again[0].processes.filter(m => parseCopyName(m.name)?.deployment === 'web' && m.state === 'running')
      assert.deepEqual(procs.map(m => m.pid), [before[0].pid])
    } finally {
      await host.linkUp()
    }
    await waitFor(async () => {
      const c = await copiesRunning(admin, 'web')
      return c.length === 2 && c.some(x => x.pid === before[0].pid) ? c : undefined
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'the mesh to see 2 copies again' })
  })

  it('a changed spec rolls out host by host: never fewer than 2 copies running, then exactly 2 of the new version', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const r = await jsonIn<DeployResult>(admin, ['deploy', 'web', '--on', 'tag:role=web', '--replicas', '2', '--', 'sh', '-c', 'while :; do sleep 2; done'])
    assert.equal(r.version, 2)
    let minSeen = Number.POSITIVE_INFINITY
    const done = await waitFor(async () => {
      const c = await copiesRunning(admin, 'web')
      minSeen = Math.min(minSeen, c.length)
      return c.length === 2 && c.every(x => x.version === 2) ? c : undefined
    }, { timeoutMs: 60_000, intervalMs: 100, what: 'exactly 2 copies of version 2' })
    assert.equal(new Set(done.map(c => c.host)).size, 2)
    assert.ok(minSeen >= 2, `at least 2 copies ran at every sample during the roll (saw ${minSeen})`)
  })

  it('a host whose trust lacks the author\'s exec role never runs a copy and audits the refusal; granted, it runs one (every)', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    await jsonIn<DeployResult>(admin, ['deploy', 'agent', '--on', 'all', '--replicas', 'every', '--', ...SERVICE])
    // admin (itself) and the three web hosts trust the author: 4 copies; the fifth host none
    const copies = await waitFor(async () => {
      const c = await copiesRunning(admin, 'agent')
      return c.length === 4 ? c : undefined
    }, { timeoutMs: 30_000, what: '4 copies of agent' })
    assert.ok(!copies.some(c => c.host === other.name))
    const audit = await jsonIn<AuditTargetEntry[]>(other, ['audit'])
    const entries = 'entries' in audit[0] ? audit[0].entries : []
    const refusal = entries.find(e => e.event === 'deploy' && e.decision === 'denied')
    assert.ok(refusal !== undefined, `the refusal is audited on ${other.name}: ${JSON.stringify(entries.slice(-5))}`)
    const adminId = await jsonIn<{ peerId: string }>(admin, ['id'])
    assert.equal(refusal.peerId, adminId.peerId)
    assert.match(refusal.reason, /lacks the exec role/)
    const status = await jsonIn<DeploymentStatus[]>(admin, ['deployments', 'agent'])
    assert.equal(status[0].running, 4)
    assert.ok(status[0].problems.some(p => p.includes(other.name) && p.includes('exec')), `deployments says why: ${JSON.stringify(status[0].problems)}`)
    await new Promise(resolve => setTimeout(resolve, 2000))
    assert.ok(!(await copiesRunning(admin, 'agent')).some(c => c.host === other.name))
    // `every` follows the hosts that run it: once the fifth host grants exec, it runs a copy too
    await grantRoles(other, admin, ['exec'])
    const all = await waitFor(async () => {
      const c = await copiesRunning(admin, 'agent')
      return c.length === 5 ? c : undefined
    }, { timeoutMs: 30_000, intervalMs: 500, what: `a copy of agent on ${other.name} after the grant` })
    assert.ok(all.some(c => c.host === other.name))
  })

  it('undeploy stops every copy', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    for (const name of ['web', 'agent']) {
      const r = await cliIn(admin, ['undeploy', name])
      assert.equal(r.code, 0, r.stderr)
    }
    await waitFor(async () => {
      const c = [...await copiesRunning(admin, 'web'), ...await copiesRunning(admin, 'agent')]
      return c.length === 0 ? true : undefined
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'no copy running anywhere' })
    const s = await jsonIn<DeploymentStatus[]>(admin, ['deployments'])
    assert.deepEqual(s, [])
    const again = await cliIn(admin, ['undeploy', 'web'])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /no deployment web/)
  })
})
