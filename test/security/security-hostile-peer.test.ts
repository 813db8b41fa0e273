/**
 * An in-process node against hostile in-process libp2p peers: one without the mesh
 * key, and a member (holds the key, so read) that speaks the protocols directly:
 * start/stop with payloads claiming to be someone else, a bogus claim, grants and
 * revocations by hand-editing the trust file, and a block that hangs up.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { createProcmeshLibp2p, type ProcmeshLibp2p } from '../../node/mesh/libp2p.js'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { request } from '../../node/mesh/reqresp.js'
import { parseTrustFile, serializeTrustFile } from '../../node/security/trust-store.js'
import { withClient } from '../../cli/control-client.js'
import { ProcmeshError } from '../../protocols/errors.js'
import { AUDIT, CLAIM, LIST, START, STOP, type StartRequest } from '../../protocols/messages.js'
import { removeHome, tempHome, waitFor } from '../helpers/procmesh.js'

async function rejectsWith (p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ProcmeshError, String(err))
    assert.equal(err.code, code, err.message)
    if (message !== undefined) assert.match(err.message, message)
    return true
  })
}

describe('a node against hostile peers', { timeout: 90_000 }, () => {
  let home: string
  let node: ProcmeshNode
  let mallory: ProcmeshLibp2p
  let nodePeer: PeerId
  let malloryId: string
  let victim: ChildProcess
  const lines: string[] = []

  const editTrust = async (fn: (peers: Record<string, unknown>) => void): Promise<void> => {
    const file = join(home, 'trust.json')
    const tf = parseTrustFile(await readFile(file, 'utf8').catch(() => '{"version":1}'))
    fn(tf.peers)
    await writeFile(file, serializeTrustFile(tf), { mode: 0o600 })
  }

  before(async () => {
    home = await tempHome()
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 500 }, createLogger({ level: 'debug', write: line => { lines.push(line) } }))
    await node.start()
    nodePeer = node.libp2p.peerId
    mallory = await createProcmeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, psk: await readFile(join(home, 'swarm.key')) })
    await mallory.start()
    malloryId = mallory.peerId.toString()
    victim = spawn('sleep', ['600'], { stdio: 'ignore' })
  })

  after(async () => {
    victim?.kill('SIGKILL')
    await mallory?.stop()
    await node?.stop()
    await removeHome(home)
  })

  it('a peer without any swarm key cannot connect; the node logs one clear line and audits it', async () => {
    const keyless = await createProcmeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    await keyless.start()
    try {
      await assert.rejects(keyless.dial(multiaddr(node.addrs()[0]), { signal: AbortSignal.timeout(5000) }))
      await waitFor(() => lines.some(l => /WARN .*connection from \/ip4\/127\.0\.0\.1\/tcp\/\d+ failed the mesh key check \(different or no swarm key[;)]/.test(l)), { timeoutMs: 10_000, what: 'the log line' }).catch((err: unknown) => { throw new Error(`${String(err)}\n${lines.join('')}`) })
      assert.ok(!node.libp2p.getConnections().some(c => c.remotePeer.equals(keyless.peerId)))
      assert.ok(node.security.audit.read(100).some(e => e.event === 'connection' && e.decision === 'denied' && /mesh key/.test(e.reason)))
    } finally {
      await keyless.stop()
    }
  })

  it('a member with read gets FORBIDDEN on start and stop however its payload claims to be the node; nothing started or signalled', async () => {
    await mallory.dial(multiaddr(node.addrs()[0]))
    // a duration no other test uses: the root namespace lists every process on the machine
    const marker = `4242.${process.pid}`
    const forged = { type: 'start', requestId: 'forged-1', argv: ['sleep', marker], requestedBy: node.peerId, from: node.peerId, peerId: node.peerId } as unknown as StartRequest
    await rejectsWith(request(mallory, nodePeer, START, forged), 'FORBIDDEN', new RegExp(`^forbidden: peer ${malloryId} \\(unknown name\\) lacks the exec role on target`))
    const pid = victim.pid ?? 0
    // read works; the victim shows up within a sampling interval
    const listed = await waitFor(async () => {
      const r = await request(mallory, nodePeer, LIST, { type: 'list' })
      return r.processes.some(p => p.pid === pid) ? r : undefined
    }, { timeoutMs: 5000, what: 'the victim to be listed' })
    const startTime = listed.processes.find(p => p.pid === pid)?.startTime ?? 0
    await rejectsWith(request(mallory, nodePeer, STOP, { type: 'stop', pid, startTime, signal: 'KILL', tree: false }), 'FORBIDDEN', /lacks the control role on target/)
    assert.doesNotThrow(() => process.kill(pid, 0))
    assert.equal(victim.signalCode, null)
    assert.ok(!listed.processes.some(p => p.cmd === `sleep ${marker}`))
    const audit = node.security.audit.read(100).filter(e => e.event === 'start' || e.event === 'stop')
    assert.deepEqual(audit.map(e => [e.event, e.peerId, e.decision]), [['start', malloryId, 'denied'], ['stop', malloryId, 'denied']])
  })

  it('a member reads the audit log; a bogus claim is refused and audited', async () => {
    const { entries } = await request(mallory, nodePeer, AUDIT, { type: 'audit', limit: 10 })
    assert.ok(entries.some(e => e.event === 'start' && e.peerId === malloryId))
    await rejectsWith(request(mallory, nodePeer, CLAIM, { type: 'claim', secret: 'A'.repeat(22) }), 'NOT_FOUND')
    assert.ok(node.security.audit.read(10).some(e => e.event === 'claim' && e.peerId === malloryId && e.decision === 'denied'))
    assert.equal(node.security.trust.entry(malloryId), undefined)
  })

  it('a grant written into trust.json by hand applies to the next request, and so does its removal', async () => {
    await editTrust(peers => { peers[malloryId] = { role: 'exec', source: 'trust', addedAt: Date.now() } })
    const req: StartRequest = { type: 'start', requestId: 'hand-1', argv: ['true'] }
    const started = await request(mallory, nodePeer, START, req)
    assert.ok(started.pid > 0)
    await editTrust(peers => { delete peers[malloryId] })
    await rejectsWith(request(mallory, nodePeer, START, { ...req, requestId: 'hand-2' }), 'FORBIDDEN')
    assert.ok(mallory.getConnections(nodePeer).length > 0, 'still the same session')
  })

  it('a block (role none) through the control API hangs up at once, refuses re-dials and every request', async () => {
    await withClient(home, async c => await c.trustAdd({ peer: malloryId, role: 'none' }))
    await waitFor(() => mallory.getConnections(nodePeer).length === 0, { timeoutMs: 5000, what: 'the block to hang up' })
    // the dial may resolve optimistically (lazy muxer selection) but the node hangs up, and nothing is served
    await mallory.dial(multiaddr(node.addrs()[0]), { signal: AbortSignal.timeout(5000) }).catch(() => undefined)
    await assert.rejects(request(mallory, nodePeer, LIST, { type: 'list' }, { timeoutMs: 5000 }))
    await waitFor(() => mallory.getConnections(nodePeer).length === 0, { timeoutMs: 5000, what: 'no connection left' })
    await waitFor(() => node.security.audit.read(20).some(e => e.event === 'connection' && e.peerId === malloryId && /blocked/.test(e.reason)), { timeoutMs: 5000, what: 'the refused connection in the audit log' })
    await withClient(home, async c => await c.trustRemove({ peer: malloryId }))
    await mallory.dial(multiaddr(node.addrs()[0]), { signal: AbortSignal.timeout(5000) })
    const listed = await request(mallory, nodePeer, LIST, { type: 'list' })
    assert.ok(listed.processes.length > 0, 'unblocked: read again')
  })

  it('a block written into trust.json by hand hangs the peer up within a second, without any request', async () => {
    assert.ok(mallory.getConnections(nodePeer).length > 0)
    await editTrust(peers => { peers[malloryId] = { role: 'none', source: 'trust', addedAt: Date.now() } })
    await waitFor(() => mallory.getConnections(nodePeer).length === 0, { timeoutMs: 3000, what: 'the hand-written block to hang up' })
    await editTrust(peers => { delete peers[malloryId] })
  })

  it('the node logged no key and no stack trace', async () => {
    const key = (await readFile(join(home, 'swarm.key'), 'utf8')).split('\n')[2]
    const all = lines.join('')
    assert.ok(!all.includes(key))
    assert.ok(!/\n\s+at /.test(all))
  })
})
