/**
 * Private meshes across simulated hosts with mDNS on (the hosts' LAN is private to
 * the test): two meshes on one LAN stay apart; a host of the other mesh joins with a
 * token and gets exactly the roles the token gives, both ways.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RunResult } from '../../protocols/control.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimHost, type SimNet } from '../../testkit/sim-hosts.js'
import { cliIn, jsonIn, nodeHome, peersIn, startMesh, startNodeIn, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

function errorCode (stdout: string): string | undefined {
  try { return (JSON.parse(stdout) as { error?: { code?: string } }).error?.code } catch { return undefined }
}

describe('private meshes on one LAN', { timeout: 240_000 }, () => {
  let net: SimNet | undefined
  let a: SimHost
  let b: SimHost
  let c: SimHost
  const nodes: MeshNode[] = []
  let other: MeshNode | undefined

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 3 })
    ;[a, b, c] = net.hosts
    nodes.push(...await startMesh([a, b]))
    // c's first node makes a mesh of its own
    other = await startNodeIn(c)
  })
  after(async () => {
    for (const n of [...nodes, other]) await stopNode(n)
    await net?.destroy()
  })

  it('stay apart: mDNS finds everyone, but only holders of the same key connect and gossip', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const keyOf = async (h: SimHost): Promise<string> => await readFile(join(nodeHome(h), 'swarm.key'), 'utf8')
    assert.equal(await keyOf(a), await keyOf(b))
    assert.notEqual(await keyOf(a), await keyOf(c))
    for (const h of [a, b]) {
      await waitFor(async () => (await peersIn(h)).filter(p => p.status === 'online').length === 2 ? true : undefined, { timeoutMs: 20_000, what: `${h.name} to see its mesh` })
    }
    // they find each other by mDNS and dial both ways: the mesh key check refuses it, with one clear line per host
    const line = /(connection from|dial to) \/ip4\/\S+ failed the mesh key check \(different or no swarm key[;)]/
    await waitFor(() => nodes.every(n => line.test(n.log())) ? true : undefined,
      { timeoutMs: 30_000, what: 'the mesh key line on a and b' }).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- a:\n${nodes[0].log()}\n--- b:\n${nodes[1].log()}\n--- c:\n${other?.log() ?? ''}`)
    })
    for (const h of [a, b]) assert.deepEqual((await peersIn(h)).map(p => p.name).sort(), [a.name, b.name].sort())
    assert.deepEqual((await peersIn(c)).map(p => p.name), [c.name])
  })

  it('a host of the other mesh joins with a token: the inviter is its admin, it holds the granted role on the inviter, others hold read', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const inv = await cliIn(a, ['invite', '--role', 'control'])
    assert.equal(inv.code, 0, inv.stderr)
    const token = inv.stdout.trim().split('\n').pop() ?? ''
    await stopNode(other)
    const refused = await cliIn(c, ['join', token])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /already belongs to mesh [0-9a-f]{8}.*--force/)
    const joined = await cliIn(c, ['join', '--force', token])
    assert.equal(joined.code, 0, joined.stderr)
    other = await startNodeIn(c)
    for (const h of [a, b, c]) {
      await waitFor(async () => (await peersIn(h)).filter(p => p.status === 'online').length === 3 ? true : undefined, { timeoutMs: 30_000, what: `${h.name} to see 3 hosts` })
    }
    const cId = (await jsonIn<{ peerId: string }>(c, ['id'])).peerId
    await waitFor(async () => (await jsonIn<{ peers: Array<{ peerId: string, role: string }> }>(a, ['trust', 'list'])).peers.some(p => p.peerId === cId && p.role === 'control') ? true : undefined,
      { timeoutMs: 20_000, what: 'c to claim control on a' })

    // a is c's admin: it may start there
    const run = await jsonIn<RunResult>(a, ['run', c.name, '--', 'sleep', '300'])
    assert.equal(run.name, c.name)
    // b holds read on c: forbidden, naming the role
    const bRun = await cliIn(b, ['run', c.name, '--json', '--', 'sleep', '300'])
    assert.equal(bRun.code, 1)
    assert.equal(errorCode(bRun.stdout), 'FORBIDDEN')
    const bKill = await cliIn(b, ['kill', c.name, String(run.pid)])
    assert.equal(bKill.code, 1)
    assert.match(bKill.stderr, /lacks the control role on /)
    // c holds control on a, not exec
    const aSleep = await jsonIn<RunResult>(a, ['run', 'self', '--', 'sleep', '300'])
    const cRun = await cliIn(c, ['run', a.name, '--', 'true'])
    assert.equal(cRun.code, 1)
    assert.match(cRun.stderr, /lacks the exec role on /)
    const cKill = await cliIn(c, ['kill', a.name, String(aSleep.pid), '--json'])
    assert.equal(cKill.code, 0, cKill.stderr)
    const killed = await cliIn(a, ['kill', c.name, String(run.pid)])
    assert.equal(killed.code, 0, killed.stderr)
  })
})
