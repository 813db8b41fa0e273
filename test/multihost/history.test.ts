/** Issue 14 across simulated hosts: one host asks another for its durable history. */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { RunResult } from '../../protocols/control.js'
import type { HistoryResult } from '../../protocols/messages.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimNet, type SimHost } from '../../testkit/sim-hosts.js'
import { cliIn, jsonIn, startMesh, startNodeIn, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

type Entry = { peerId: string, name: string, history?: HistoryResult, error?: { code: string, message: string } }

function historyOf (entries: Entry[], name: string): HistoryResult {
  const e = entries.find(x => x.name === name)
  if (e?.history === undefined) throw new Error(`no history for ${name}: ${JSON.stringify(e)}`)
  return e.history
}

describe('durable history across simulated hosts', { timeout: 300_000 }, () => {
  let net: SimNet | undefined
  let nodes: MeshNode[] = []
  let a: SimHost
  let b: SimHost
  let busy: RunResult | undefined

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 2 })
    ;[a, b] = net.hosts
    nodes = await startMesh(net.hosts)
    for (const host of net.hosts) {
      await waitFor(async () => {
        const peers = await jsonIn<Array<{ status: string }>>(host, ['peers'])
        return peers.length === 2 && peers.every(p => p.status === 'online') ? true : undefined
      }, { timeoutMs: 20_000, what: `${host.name} to see the mesh` })
    }
  })
  after(async () => {
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
  })

  it('a busy process started at a known time shows in `history --at` on another host, and its exit code in --events', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    // busy for 4 s, then exit 3: a managed process, so the exit code is known
    busy = await jsonIn<RunResult>(b, ['run', 'self', '--', process.execPath, '-e', 'const e = Date.now() + 4000; while (Date.now() < e); process.exit(3)'])
    const started = busy.startTime
    const exited = await waitFor(async () => {
      const h = historyOf(await jsonIn<Entry[]>(a, ['history', b.name, '--from', String(started - 5000), '--to', String(Date.now()), '--events']), b.name)
      return h.events?.find(e => e.kind === 'exit' && e.pid === busy?.pid)
    }, { timeoutMs: 30_000, what: 'the exit of the busy process in the history of B' })
    assert.equal(exited.startTime, started)
    assert.equal(exited.exitCode, 3)
    assert.equal(exited.managedId, busy.managedId)
    assert.ok((exited.lifetimeMs ?? 0) >= 3500, `lifetime ${String(exited.lifetimeMs)}`)

    const at = started + 2500
    const h = historyOf(await jsonIn<Entry[]>(a, ['history', b.name, '--at', new Date(at).toISOString(), '--top', '5', '--events']), b.name)
    assert.ok(h.atSample !== undefined)
    assert.ok(Math.abs(h.atSample.at - at) <= 1500, 'the sample nearest the time')
    const found = h.atSample.processes.find(p => p.pid === busy?.pid)
    assert.ok(found !== undefined, `pid ${busy.pid} among ${JSON.stringify(h.atSample.processes.map(p => [p.pid, p.name, p.cpuPercent]))}`)
    assert.equal(found.startTime, started)
    assert.ok(h.events?.some(e => e.kind === 'start' && e.pid === busy?.pid && e.at === started))

    const human = await cliIn(a, ['history', b.name, '--at', new Date(at).toISOString(), '--events'])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, new RegExp(`top processes at .*\\n(.*\\n)*\\s+${busy.pid}\\s`))
    assert.match(human.stdout, new RegExp(`exit\\s+${busy.pid}\\s.*code 3`))
  })

  it('`all` answers every host; bad ranges exit 2 naming the flag', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const entries = await jsonIn<Entry[]>(a, ['history', 'all', '--since', '1m'])
    assert.deepEqual(entries.map(e => e.name).sort(), [a.name, b.name].sort())
    for (const e of entries) assert.ok((e.history?.points.length ?? 0) > 0, `${e.name} has points`)
    const backwards = await cliIn(a, ['history', b.name, '--from', '-1m', '--to', '-2m'])
    assert.equal(backwards.code, 2)
    assert.match(backwards.stderr, /--from: .* is not before --to/)
    const garbage = await cliIn(a, ['history', b.name, '--at', 'yesterday-ish'])
    assert.equal(garbage.code, 2)
    assert.match(garbage.stderr, /--at: expected a time/)
  })

  it('a restarted node keeps its history: the range shows the samples before the restart', async (t) => {
    if (!requireHarness(t) || net === undefined || busy === undefined) return
    const before = historyOf(await jsonIn<Entry[]>(a, ['history', b.name, '--since', '10m']), b.name)
    await stopNode(nodes[1])
    const downAt = Date.now()
    nodes[1] = await startNodeIn(b)
    await waitFor(async () => {
      const peers = await jsonIn<Array<{ name: string, status: string }>>(a, ['peers'])
      return peers.find(p => p.name === b.name)?.status === 'online' ? true : undefined
    }, { timeoutMs: 30_000, what: 'B back in the mesh' })
    const after = historyOf(await jsonIn<Entry[]>(a, ['history', b.name, '--from', String(busy.startTime - 5000), '--to', 'now', '--events']), b.name)
    assert.equal(after.range?.oldest, before.range?.oldest, 'nothing dropped')
    assert.ok(after.points.some(p => p.at < downAt) && after.points.some(p => p.at > downAt), 'samples on both sides of the restart')
    assert.ok(after.events?.some(e => e.kind === 'exit' && e.pid === busy?.pid), 'the exit recorded before the restart')
  })

  it('the read role is enforced: a peer with role none gets no history', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const id = await jsonIn<{ peerId: string }>(a, ['id'])
    const r = await cliIn(b, ['trust', 'add', id.peerId, '--role', 'none'])
    assert.equal(r.code, 0, r.stderr)
    const refused = await waitFor(async () => {
      const res = await cliIn(a, ['history', b.name, '--since', '1m'])
      return res.code === 1 ? res : undefined
    }, { timeoutMs: 20_000, what: 'A to be refused' })
    assert.match(refused.stderr, /procmesh history: /)
    assert.equal((await cliIn(b, ['history', 'self', '--since', '1m'])).code, 0, 'B still answers itself')
  })
})
