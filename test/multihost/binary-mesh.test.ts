/**
 * Issue 7: the single executable joins a harness mesh (mDNS between simulated hosts)
 * with nodes run from source, and answers ps and run from them.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { PsEntry, RunResult } from '../../protocols/control.js'
import type { PeerEntry } from '../../protocols/types.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimNet } from '../../testkit/sim-hosts.js'
import { EXE, ensureBinary } from '../helpers/binary.js'
import { grantRoles, jsonIn, nodeHome, pidsIn, shareMeshKey, startNodeIn, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

describe('the single executable in a mesh of simulated hosts', { timeout: 180_000 }, () => {
  let net: SimNet | undefined
  const nodes: MeshNode[] = []

  before(async () => {
    if (harnessSkipReason() !== undefined || process.platform !== 'linux') return
    await ensureBinary()
    net = await createSimNet({ hosts: 3 })
    const [exeHost, ...srcHosts] = net.hosts
    // host-1 runs the executable and creates the mesh; the others run from source and get its key
    const exeProc = exeHost.spawn([EXE, 'node', '--home', nodeHome(exeHost), '--interval', '1s'])
    let log = ''
    exeProc.stderr?.setEncoding('utf8').on('data', (d: string) => { log += d })
    nodes.push({ host: exeHost, home: nodeHome(exeHost), proc: exeProc, log: () => log })
    await waitFor(async () => (await exeHost.exec([EXE, 'id', '--home', nodeHome(exeHost)])).code === 0 ? true : undefined, { timeoutMs: 20_000, what: 'the executable\'s node to start' })
    await shareMeshKey(exeHost, srcHosts)
    for (const h of srcHosts) nodes.push(await startNodeIn(h))
  })
  after(async () => {
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
  })

  it('is seen online by the source nodes, and sees them', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const [exeHost, srcHost] = net.hosts
    await waitFor(async () => {
      const peers = await jsonIn<PeerEntry[]>(srcHost, ['peers'])
      return peers.length === 3 && peers.every(p => p.status === 'online') ? true : undefined
    }, { timeoutMs: 20_000, what: 'a source node to see all three online' })
    const fromExe = await exeHost.exec([EXE, 'peers', '--json', '--home', nodeHome(exeHost)])
    assert.equal(fromExe.code, 0, fromExe.stderr)
    assert.deepEqual((JSON.parse(fromExe.stdout) as PeerEntry[]).map(p => p.name).sort(), net.hosts.map(h => h.name).sort())
  })

  it('answers ps and run from a source node', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const [exeHost, srcHost] = net.hosts
    const entries = await jsonIn<PsEntry[]>(srcHost, ['ps', exeHost.name])
    const listed = entries[0]
    assert.ok(!('error' in listed), JSON.stringify(listed))
    assert.ok(listed.processes.some(p => p.cmd.startsWith(`${EXE} node`)), 'the executable\'s own node is listed')
    await grantRoles(exeHost, srcHost, ['exec'])
    const run = await jsonIn<RunResult>(srcHost, ['run', exeHost.name, '--', 'sleep', '4321'])
    assert.ok((await pidsIn(exeHost)).includes(run.pid))
  })
})
