/**
 * Issue 17 finding 16: blocking a member (`--role none`) does not stop someone holding the mesh
 * key. `procmesh rotate-key` hands a new key over the mesh to the members named; on simulated
 * hosts (mDNS on, a private LAN) the named members form the mesh again on the new key, and the
 * member left out, which still holds the old key, cannot connect to any of them.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RotateKeyResultLocal } from '../../protocols/rotate-key.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimHost, type SimNet } from '../../testkit/sim-hosts.js'
import { cliIn, grantRoles, jsonIn, nodeHome, peersIn, startMesh, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

describe('rotate-key puts a member holding the old key out (finding 16)', { timeout: 240_000 }, () => {
  let net: SimNet | undefined
  let a: SimHost
  let b: SimHost
  let c: SimHost
  const nodes: MeshNode[] = []

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 3 })
    ;[a, b, c] = net.hosts
    nodes.push(...await startMesh([a, b, c]))
  })
  after(async () => {
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
  })

  it('the named member switches with this node; the one left out cannot connect with the old key', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    for (const h of [a, b, c]) {
      await waitFor(async () => (await peersIn(h)).filter(p => p.status === 'online').length === 3 ? true : undefined, { timeoutMs: 30_000, what: `${h.name} to see 3 hosts` })
    }
    // b takes a new key only from a peer holding exec on it (an admin)
    await grantRoles(b, a, ['exec'])
    const keyOf = async (h: SimHost): Promise<string> => await readFile(join(nodeHome(h), 'swarm.key'), 'utf8')
    const oldKey = await keyOf(c)

    const dry = await cliIn(a, ['rotate-key', b.name])
    assert.equal(dry.code, 1)
    assert.match(dry.stderr, new RegExp(`would keep ${b.name} and put out ${c.name}.*--yes`))
    assert.equal(await keyOf(a), oldKey, 'without --yes nothing changes')

    const r = await jsonIn<RotateKeyResultLocal>(a, ['rotate-key', b.name, '--yes'])
    assert.equal(r.members.length, 1)
    assert.ok(!('error' in r.members[0]), JSON.stringify(r))
    assert.equal(r.members[0].name, b.name)

    // a and b hold the new key; c still the old one
    await waitFor(async () => (await keyOf(a)) === (await keyOf(b)) && (await keyOf(a)) !== oldKey ? true : undefined, { timeoutMs: 10_000, what: 'a and b to store the new key' })
    assert.equal(await keyOf(c), oldKey)

    // after the switch, a and b see each other online again, and c offline
    const ids = new Map<string, string>()
    for (const h of [a, b, c]) ids.set(h.name, (await jsonIn<{ peerId: string }>(h, ['id'])).peerId)
    for (const h of [a, b]) {
      await waitFor(async () => {
        const peers = await peersIn(h)
        const online = new Set(peers.filter(p => p.status === 'online').map(p => p.name))
        return online.has(a.name) && online.has(b.name) && !online.has(c.name) ? true : undefined
      }, { timeoutMs: 60_000, what: `${h.name} to see a and b online and c not` }).catch(async (err: unknown) => {
        throw new Error(`${String(err)}\n${JSON.stringify(await peersIn(h))}\n--- a:\n${nodes[0].log()}\n--- b:\n${nodes[1].log()}`)
      })
    }
    // c keeps trying (mDNS finds them, it re-dials): every attempt fails the mesh key check
    await waitFor(async () => {
      const online = (await peersIn(c)).filter(p => p.status === 'online' && !p.self)
      return online.length === 0 ? true : undefined
    }, { timeoutMs: 60_000, what: 'c to lose a and b' })
    await waitFor(() => /failed the mesh key check/.test(nodes[2].log()) ? true : undefined, { timeoutMs: 30_000, what: 'c to be refused by the mesh key check' })
    // still out a while later: no connection of c's succeeds
    await new Promise(resolve => setTimeout(resolve, 5000))
    assert.ok((await peersIn(a)).every(p => p.name !== c.name || p.status !== 'online'))

    // the rotation is in a's and b's audit, the key is not
    const auditA = await cliIn(a, ['audit', '--json'])
    assert.match(auditA.stdout, /"event":"rotate-key".*"decision":"allowed"/)
    assert.ok(!auditA.stdout.includes((await keyOf(a)).trim().split('\n').pop() ?? 'x'), 'the key itself is never audited')
    const auditB = await cliIn(b, ['audit', '--json'])
    assert.match(auditB.stdout, new RegExp(`"event":"rotate-key","peerId":"${ids.get(a.name) ?? ''}"`))
  })
})
