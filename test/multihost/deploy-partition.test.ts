/**
 * Issue 13, partitions: 5 simulated hosts split 3|2 (blackhole routes between the sides, so no
 * unicast crosses). Each side places the replicas among the hosts it sees: no side with matching
 * hosts runs zero copies. After the heal the count converges back to the spec.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { LsEntry } from '../../protocols/control.js'
import { parseCopyName } from '../../protocols/deploy.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimHost, type SimNet } from '../../testkit/sim-hosts.js'
import { grantRoles, jsonIn, shareMeshKey, startNodeIn, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

async function copiesSeenFrom (from: SimHost): Promise<Array<{ host: string, pid: number }>> {
  const out: Array<{ host: string, pid: number }> = []
  for (const e of await jsonIn<LsEntry[]>(from, ['ls', 'all'], 30_000)) {
    if ('error' in e) continue
    for (const m of e.processes) if (parseCopyName(m.name)?.deployment === 'svc' && m.state === 'running') out.push({ host: e.name, pid: m.pid })
  }
  return out
}

/** Drop (or restore) unicast between two groups of hosts: a blackhole route on each side for each host of the other. */
async function partition (a: SimHost[], b: SimHost[], cut: boolean): Promise<void> {
  for (const [from, to] of [[a, b], [b, a]] as const) {
    for (const h of from) {
      for (const o of to) {
        const r = await h.exec(['ip', 'route', cut ? 'add' : 'del', 'blackhole', `${o.ip}/32`])
        if (r.code !== 0) throw new Error(`ip route in ${h.name}: ${r.stderr}`)
      }
    }
  }
}

describe('deployments across a partition (simulated hosts)', { timeout: 600_000 }, () => {
  let net: SimNet | undefined
  const nodes: MeshNode[] = []

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 5, prefix: 'pmp' })
    const [first, ...rest] = net.hosts
    nodes.push(await startNodeIn(first, ['--tag', 'role=web'], 60_000))
    await shareMeshKey(first, rest)
    for (const h of rest) nodes.push(await startNodeIn(h, ['--tag', 'role=web'], 60_000))
    await waitFor(async () => {
      const peers = await jsonIn<Array<{ status: string }>>(first, ['peers'])
      return peers.length === 5 && peers.every(p => p.status === 'online') ? true : undefined
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'the mesh to form' })
    for (const h of rest) await grantRoles(h, first, ['exec'])
  })
  after(async () => {
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
  })

  it('3|2: both sides run copies; healed: exactly the spec again', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const hosts = net.hosts
    await jsonIn(hosts[0], ['deploy', 'svc', '--on', 'tag:role=web', '--replicas', '2', '--', 'sh', '-c', 'while :; do sleep 1; done'])
    await waitFor(async () => (await copiesSeenFrom(hosts[0])).length === 2 ? true : undefined, { timeoutMs: 30_000, intervalMs: 500, what: '2 copies' })
    const big = hosts.slice(0, 3)
    const small = hosts.slice(3)
    await partition(big, small, true)
    let healed = false
    try {
      // each side sees only its own hosts and places both replicas among them
      for (const [side, from] of [[big, big[0]], [small, small[0]]] as const) {
        const names = side.map(h => h.name)
        const c = await waitFor(async () => {
          const seen = await copiesSeenFrom(from)
          const onSide = seen.filter(x => names.includes(x.host))
          return onSide.length === 2 ? onSide : undefined
        }, { timeoutMs: 90_000, intervalMs: 1000, what: `2 copies on the side of ${from.name}` })
        assert.equal(new Set(c.map(x => x.host)).size, 2)
        t.diagnostic(`side ${names.join(',')}: copies on ${c.map(x => x.host).join(', ')}`)
      }
      await partition(big, small, false)
      healed = true
    } finally {
      if (!healed) await partition(big, small, false).catch(() => {})
    }
    const back = await waitFor(async () => {
      const c = await copiesSeenFrom(hosts[0])
      return c.length === 2 ? c : undefined
    }, { timeoutMs: 120_000, intervalMs: 1000, what: 'exactly 2 copies after the heal' })
    assert.equal(new Set(back.map(x => x.host)).size, 2)
    await new Promise(resolve => setTimeout(resolve, 3000))
    assert.equal((await copiesSeenFrom(hosts[0])).length, 2, 'still exactly 2')
  })
})
