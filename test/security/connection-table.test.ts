/**
 * Issue 17 finding 11: one member holding the mesh key must not fill the connection table with
 * fresh identities (keys are free) until new peers are refused. Independent members
 * (test/helpers/hostile-peer.ts) with fresh identities connect from one address: at most
 * MAX_UNKNOWN_PEERS_PER_HOST of them are kept, the rest are refused after the handshake with the
 * reason logged, and a peer the trust file knows still connects from that same address.
 * Before: every one was kept, up to the table's 300, and then nobody else got in.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { ConnectionTable, MAX_UNKNOWN_CONNECTIONS, MAX_UNKNOWN_PEERS_PER_HOST } from '../../node/security/admission.js'
import { HostilePeer } from '../helpers/hostile-peer.js'
import { removeHome, runCli, tempHome, waitFor } from '../helpers/procmesh.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const FRESH = MAX_UNKNOWN_PEERS_PER_HOST + 8

describe('the connection table against fresh identities (finding 11)', { timeout: 180_000 }, () => {
  let home: string
  let node: ProcmeshNode
  const peers: HostilePeer[] = []
  const lines: string[] = []

  before(async () => {
    home = await tempHome('pm-table-')
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 1000 }, createLogger({ level: 'info', write: l => { lines.push(l) } }))
    await node.start()
  })

  after(async () => {
    for (const p of peers) await p.stop().catch(() => {})
    await node?.stop()
    await removeHome(home)
  })

  it(`${FRESH} fresh identities from one address: ${MAX_UNKNOWN_PEERS_PER_HOST} kept, the rest refused, a trusted peer still gets in`, async () => {
    const psk = await readFile(join(home, 'swarm.key'))
    const addr = node.addrs()[0]
    // the trusted peer is made (and trusted) first, so it is a peer the node knows
    const trusted = await HostilePeer.create({ psk })
    peers.push(trusted)
    const add = await runCli(['trust', 'add', trusted.id, '--role', 'read', '--home', home, '--yes'])
    assert.equal(add.code, 0, add.stderr)
    for (let i = 0; i < FRESH; i++) {
      const p = await HostilePeer.create({ psk })
      peers.push(p)
      // under libp2p's 5 new connections a second per address
      await p.connect(addr, 10_000).catch(() => {})
      await sleep(250)
    }
    const held = await waitFor(() => {
      const n = node.libp2p.getConnections().filter(c => peers.slice(1).some(p => p.node.peerId.equals(c.remotePeer))).length
      return n <= MAX_UNKNOWN_PEERS_PER_HOST ? n : undefined
    }, { timeoutMs: 15_000, what: `at most ${MAX_UNKNOWN_PEERS_PER_HOST} fresh identities connected` }).catch((err: unknown) => {
      throw new Error(`${String(err)}: ${node.libp2p.getConnections().length} connections`)
    })
    assert.equal(held, MAX_UNKNOWN_PEERS_PER_HOST)
    assert.ok(lines.some(l => /inbound connection from peer \S+ .*refused: 16 peers not known to this node already connected from \/ip4\/127\.0\.0\.1 \(at most 16 per host/.test(l)), lines.slice(-20).join(''))
    await trusted.connect(addr, 10_000)
    await waitFor(() => node.libp2p.getConnections(trusted.node.peerId).length > 0, { timeoutMs: 5000, what: 'the trusted peer to be connected' }).catch((err: unknown) => {
      throw new Error(`${String(err)}: ${lines.filter(l => l.includes(trusted.id)).join('')}`)
    })
    // the node still serves: its own view answers
    assert.ok(node.peers().some(p => p.self))
  })
})

describe('connection table (pure)', () => {
  it('caps unknown peers per host and in all, and frees on close', () => {
    const t = new ConnectionTable()
    const releases: Array<() => void> = []
    for (let i = 0; i < MAX_UNKNOWN_PEERS_PER_HOST; i++) {
      const a = t.admit('/ip4/10.0.0.1', `p${i}`)
      assert.equal(a.admitted, true)
      if (a.admitted) releases.push(a.release)
    }
    const refused = t.admit('/ip4/10.0.0.1', 'p-extra')
    assert.equal(refused.admitted, false)
    // a second connection of a peer already counted is not a new identity
    assert.equal(t.admit('/ip4/10.0.0.1', 'p0').admitted, true)
    releases[0]()
    releases[0]()
    assert.equal(t.admit('/ip4/10.0.0.1', 'p-extra').admitted, false, 'p0 still has a connection')
    for (let h = 2; t.counts().unknown < MAX_UNKNOWN_CONNECTIONS; h++) t.admit(`/ip4/10.0.${h}.1`, `q${h}`)
    const full = t.admit('/ip4/10.9.9.9', 'late')
    assert.ok(!full.admitted && /the rest are kept for known peers/.test(full.reason))
  })
})
