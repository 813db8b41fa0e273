/**
 * Issue 11 across simulated hosts: change-driven gossip. Deltas survive a partition (the gap is
 * healed by a pulled full summary), live figures flow only to a watcher, a vanished host goes
 * stale then offline, and a host that stops says goodbye.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { ControlClient } from '../../cli/control-client.js'
import type { PeerEntry } from '../../protocols/types.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimHost, type SimNet } from '../../testkit/sim-hosts.js'
import { nodeHome, procCountIn, startMesh, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

async function netTx (host: SimHost): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const text = await readFile(`/proc/${host.initPid}/net/dev`, 'utf8')
  const line = text.split('\n').find(l => l.trim().startsWith('eth0:'))
  if (line === undefined) throw new Error(`no eth0 in ${host.name}`)
  return Number(line.slice(line.indexOf(':') + 1).trim().split(/\s+/)[8])
}

async function peersVia (client: ControlClient, live?: string[]): Promise<PeerEntry[]> {
  return await client.peers(live === undefined ? {} : { live }, { timeoutMs: 5000 })
}

describe('change-driven gossip across simulated hosts', { timeout: 300_000 }, () => {
  let net: SimNet | undefined
  let nodes: MeshNode[] = []
  const clients: ControlClient[] = []
  const children: ChildProcess[] = []

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 4 })
    nodes = await startMesh(net.hosts)
    for (const host of net.hosts) {
      await waitFor(async () => {
        const list = await (await import('../helpers/sim-mesh.js')).peersIn(host)
        return list.length === 4 && list.every(p => p.status === 'online') ? true : undefined
      }, { timeoutMs: 30_000, what: `${host.name} to see 4 online peers` })
    }
    for (const host of net.hosts) clients.push(await ControlClient.connect(nodeHome(host)))
  })
  after(async () => {
    for (const c of children) c.kill('SIGKILL')
    for (const c of clients) c.close()
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
  })

  it('processes started during a partition are in every view after it heals (gap -> full summary)', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const c = net.hosts[2]
    await c.linkDown()
    for (let i = 0; i < 3; i++) children.push(c.spawn(['sleep', '600']))
    await new Promise(resolve => setTimeout(resolve, 4000))
    await c.linkUp()
    const real = await procCountIn(c)
    for (const [i, host] of net.hosts.entries()) {
      if (host === c) continue
      await waitFor(async () => {
        const entry = (await peersVia(clients[i])).find(p => p.name === c.name)
        return entry !== undefined && entry.status === 'online' && entry.procCount === real ? true : undefined
      }, { timeoutMs: 30_000, what: `${host.name} to list ${c.name} online with ${real} processes` })
    }
  })

  it('a started process is in every other view within a second or two, without waiting for a sample', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const origin = net.hosts[1]
    const expected = await procCountIn(origin) + 1
    const t0 = Date.now()
    children.push(origin.spawn(['sleep', '600']))
    const seen = await Promise.all(net.hosts.map(async (host, i) => {
      if (host === origin) return 0
      return await waitFor(async () => {
        const entry = (await peersVia(clients[i])).find(p => p.name === origin.name)
        return entry !== undefined && entry.procCount >= expected ? Date.now() - t0 : undefined
      }, { timeoutMs: 10_000, intervalMs: 50, what: `${host.name} to see the new process on ${origin.name}` })
    }))
    t.diagnostic(`visible on every other host after ${Math.max(...seen)} ms`)
  })

  it('a watched host streams fresh figures to its watcher; an unwatched one sends only probes and keep-alives', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const [watcherHost, watched, , unwatched] = net.hosts
    const watchedId = (await peersVia(clients[1])).find(p => p.self)?.peerId
    assert.ok(watchedId !== undefined)
    const published = async (): Promise<number> => {
      const g = (await peersVia(clients[3])).find(p => p.self)?.gossip
      assert.ok(g !== undefined, 'the self entry carries gossip counters')
      return g.full + g.delta + g.alive
    }
    // one 8 s window; a second one if the first saw more than an idle node sends: on a loaded
    // machine a probe can time out and a reconnect (handshakes, identify, a full summary) land in
    // the window, which is not the idle cost this asserts (CI once measured 4.9 KB/s that way)
    const windows: Array<{ txRate: number, messages: number, samples: number }> = []
    for (let attempt = 0; attempt < 2; attempt++) {
      const liveAts = new Set<number>()
      const sent0 = await published()
      const tx0 = await netTx(unwatched)
      const t0 = Date.now()
      while (Date.now() - t0 < 8000) {
        const entry = (await peersVia(clients[0], [watchedId])).find(p => p.peerId === watchedId)
        if (entry?.liveAt !== undefined) liveAts.add(entry.liveAt)
        await new Promise(resolve => setTimeout(resolve, 500))
      }
      const w = { txRate: (await netTx(unwatched) - tx0) / ((Date.now() - t0) / 1000), messages: await published() - sent0, samples: liveAts.size }
      windows.push(w)
      t.diagnostic(`window ${attempt + 1}: ${watcherHost.name} saw ${w.samples} distinct live samples of ${watched.name}; ${unwatched.name} published ${w.messages} messages and sent ${w.txRate.toFixed(0)} B/s`)
      if (w.txRate < 4096 && w.messages <= 4) break
    }
    const best = windows[windows.length - 1]
    // figures at most every 15 s and a keep-alive every 15 s at this size; a loaded machine can add a
    // full summary for a reconnecting peer: a handful at most, where a summary per interval was 8
    assert.ok(best.messages <= 4, `the unwatched host published ${best.messages} messages in 8 s`)
    // interval 1 s over 8 s: a fresh sample nearly every second
    assert.ok(best.samples >= 4, `only ${best.samples} live samples in 8 s`)
    // bytes: its probes, others' messages it forwards, TCP acknowledgements (README: ~0.7 KB/s idle)
    assert.ok(best.txRate < 4096, `an unwatched idle host sent ${windows.map(w => w.txRate.toFixed(0)).join(' then ')} B/s; its log:\n${nodes[3].log().split("\n").slice(-40).join("\n")}`)
    // nobody asks: the watch expires and the figures are the gossiped ones again
    await waitFor(async () => {
      const entry = (await peersVia(clients[0])).find(p => p.peerId === watchedId)
      return entry !== undefined && entry.liveAt === undefined ? true : undefined
    }, { timeoutMs: 10_000, what: 'the plain view without live figures' })
  })

  it('a host that vanishes (link cut) goes stale, then offline', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const b = net.hosts[1]
    const seen: string[] = []
    const t0 = Date.now()
    await b.linkDown()
    try {
      await waitFor(async () => {
        const st = (await peersVia(clients[0])).find(p => p.name === b.name)?.status
        if (st !== undefined && seen[seen.length - 1] !== st) seen.push(st)
        return st === 'offline' ? true : undefined
      }, { timeoutMs: 30_000, intervalMs: 100, what: `${net.hosts[0].name} to see ${b.name} offline` })
      t.diagnostic(`statuses: ${seen.join(' -> ')} in ${Date.now() - t0} ms`)
      assert.deepEqual(seen, ['online', 'stale', 'offline'])
    } finally {
      await b.linkUp()
    }
    await waitFor(async () => (await peersVia(clients[0])).find(p => p.name === b.name && p.status === 'online'), { timeoutMs: 45_000, what: `${b.name} back online` })
    // and b hears everyone again (it marked them offline from its side of the cut): the next
    // test's goodbye is gossip, which b gets only once its own connections are back
    await waitFor(async () => {
      const view = await peersVia(clients[1])
      return view.length === net?.hosts.length && view.every(p => p.status === 'online') ? true : undefined
    }, { timeoutMs: 45_000, what: `${b.name} to see every host online again` })
  })

  it('a node that stops says goodbye: offline everywhere at once', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const d = net.hosts[3]
    const t0 = Date.now()
    await stopNode(nodes[3])
    for (const i of [0, 1, 2]) {
      await waitFor(async () => (await peersVia(clients[i])).find(p => p.name === d.name && p.status === 'offline'), { timeoutMs: 5000, intervalMs: 50, what: `${net.hosts[i].name} to see ${d.name} offline` })
    }
    t.diagnostic(`offline everywhere ${Date.now() - t0} ms after SIGTERM`)
  })
})
