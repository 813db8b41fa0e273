/** Issue 2 across simulated hosts: mDNS discovery, gossip, status changes on crash and partition. */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimNet } from '../../testkit/sim-hosts.js'
import { peersIn, procCountIn, shareMeshKey, startMesh, startNodeIn, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

describe('mesh across simulated hosts', { timeout: 240_000 }, () => {
  let net: SimNet | undefined
  let nodes: MeshNode[] = []

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 3 })
    nodes = await startMesh(net.hosts)
  })
  after(async () => {
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
  })

  it('3 hosts discover each other by mDNS with real figures', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const names = net.hosts.map(h => h.name).sort()
    for (const host of net.hosts) {
      const peers = await waitFor(async () => {
        const list = await peersIn(host)
        return list.length === 3 && list.every(p => p.status === 'online') ? list : undefined
      }, { timeoutMs: 20_000, what: `${host.name} to see 3 online peers` })
      assert.deepEqual(peers.map(p => p.name).sort(), names)
      for (const p of peers) {
        assert.equal(p.host.hostname, p.name, 'hostname comes from the host\'s own UTS namespace')
        assert.ok(p.host.cpus >= 1)
        assert.ok(p.host.cpuPercent >= 0 && p.host.cpuPercent <= 100)
        assert.ok(p.host.memTotal > 0 && p.host.memUsed > 0 && p.host.memUsed < p.host.memTotal)
        assert.ok(p.addrs.length > 0 && p.addrs.every(a => !a.startsWith('/ip4/127.')), `no loopback announced: ${p.addrs.join(' ')}`)
      }
    }
    // process counts: what each host really runs (its PID namespace), within ±2
    for (const host of net.hosts) {
      const real = await procCountIn(host)
      const fromOther = (await peersIn(net.hosts[(net.hosts.indexOf(host) + 1) % 3])).find(p => p.name === host.name)
      assert.ok(fromOther !== undefined)
      assert.ok(Math.abs(fromOther.procCount - real) <= 2, `${host.name}: gossiped ${fromOther.procCount}, /proc has ${real}`)
      assert.ok(real < 20, 'a simulated host sees only its own processes')
    }
  })

  it('a host started later appears everywhere', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const late = await net.addHost('late')
    await shareMeshKey(net.hosts[0], [late])
    const t0 = Date.now()
    nodes.push(await startNodeIn(late))
    for (const host of net.hosts) {
      await waitFor(async () => {
        const list = await peersIn(host)
        return list.length === 4 && list.every(p => p.status === 'online') ? true : undefined
      }, { timeoutMs: 20_000, what: `${host.name} to see the late host` })
    }
    t.diagnostic(`late host visible everywhere ${Date.now() - t0} ms after its node was spawned`)
  })

  it('a host killed with SIGKILL turns offline everywhere', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const victim = net.hosts[3]
    await victim.kill9All()
    for (const host of net.hosts.slice(0, 3)) {
      await waitFor(async () => (await peersIn(host)).find(p => p.name === victim.name && p.status !== 'online'), { timeoutMs: 15_000, what: `${host.name} to see ${victim.name} not online` })
      await waitFor(async () => (await peersIn(host)).find(p => p.name === victim.name && p.status === 'offline'), { timeoutMs: 20_000, what: `${host.name} to see ${victim.name} offline` })
    }
  })

  it('a host whose link is cut goes stale and comes back online when the link returns', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const [a, b] = net.hosts
    await b.linkDown()
    const seen: string[] = []
    await waitFor(async () => {
      const st = (await peersIn(a)).find(p => p.name === b.name)?.status
      if (st !== undefined && seen[seen.length - 1] !== st) seen.push(st)
      return st === 'stale' || st === 'offline' ? true : undefined
    }, { timeoutMs: 20_000, what: `${a.name} to see ${b.name} stale` })
    assert.ok(seen.includes('stale') || seen.includes('offline'), `statuses seen: ${seen.join(' -> ')}`)
    await b.linkUp()
    await waitFor(async () => (await peersIn(a)).find(p => p.name === b.name && p.status === 'online'), { timeoutMs: 45_000, what: `${b.name} back online at ${a.name}` })
    await waitFor(async () => (await peersIn(b)).find(p => p.name === a.name && p.status === 'online'), { timeoutMs: 45_000, what: `${a.name} back online at ${b.name}` })
  })
})
