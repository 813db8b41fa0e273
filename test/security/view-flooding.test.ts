/**
 * Issue 17 finding 6 (THREATS case 28), driven by an independent member: it relays, over its one
 * connection, gossipsub messages (/meshsub/1.1.0 RPC frames built and signed by hand with
 * @libp2p/crypto) carrying full summaries signed by 1,100 fresh keys. Before: the view (cap 1,024)
 * filled with fakes and a member that connected afterwards was refused ("view is full") for up to
 * an hour. Now one relayer introduces at most MAX_RELAYED_AUTHORS_PER_PEER unconnected peers, and a
 * connected member always gets in.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { RPC } from '@libp2p/gossipsub/message'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { encodeGossip } from '../../protocols/gossip.js'
import { SUMMARY_TOPIC } from '../../protocols/ids.js'
import { MAX_RELAYED_AUTHORS_PER_PEER } from '../../protocols/limits.js'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { HostilePeer } from '../helpers/hostile-peer.js'
import { removeHome, tempHome, waitFor } from '../helpers/procmesh.js'
import { sampleSummary } from '../fixtures-summary.js'

const FAKES = 1100
const PER_FRAME = 20
const SIGN_PREFIX = new TextEncoder().encode('libp2p-pubsub:')

/** One gossipsub message on the summary topic: a full summary of a fresh identity, signed by it. */
async function fakeMessage (): Promise<RPC.Message> {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  const data = encodeGossip({ v: 1, kind: 'full', peerId: id, seq: 1, prev: 0, at: Date.now(), summary: sampleSummary({ peerId: id, name: `fake-${id.slice(-6)}`, seq: 1 }) })
  const unsigned: RPC.Message = { from: peerIdFromPrivateKey(key).toMultihash().bytes, data, seqno: randomBytes(8), topic: SUMMARY_TOPIC }
  const body = RPC.Message.encode(unsigned)
  const toSign = new Uint8Array(SIGN_PREFIX.length + body.length)
  toSign.set(SIGN_PREFIX)
  toSign.set(body, SIGN_PREFIX.length)
  return { ...unsigned, signature: await key.sign(toSign), key: publicKeyToProtobuf(key.publicKey) }
}

describe('view flooding by one member (finding 6)', { timeout: 180_000 }, () => {
  let home: string
  let node: ProcmeshNode
  const peers: HostilePeer[] = []
  const lines: string[] = []

  before(async () => {
    home = await tempHome('pm-viewflood-')
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 1000 }, createLogger({ level: 'info', write: l => { lines.push(l) } }))
    await node.start()
  })

  after(async () => {
    for (const p of peers) await p.stop().catch(() => {})
    await node?.stop()
    await removeHome(home)
  })

  it(`summaries of ${FAKES} fresh keys relayed by one member: the view stays bounded and a member that connects later is in it`, async () => {
    const psk = await readFile(join(home, 'swarm.key'))
    const relayer = await HostilePeer.create({ psk })
    peers.push(relayer)
    const target = await relayer.connect(node.addrs()[0])
    const stream = await relayer.node.dialProtocol(target, '/meshsub/1.1.0', { signal: AbortSignal.timeout(10_000) })
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
    for (let i = 0; i < FAKES; i += PER_FRAME) {
      const messages = await Promise.all(Array.from({ length: Math.min(PER_FRAME, FAKES - i) }, fakeMessage))
      await lp.write(RPC.encode({ subscriptions: [], messages }))
    }
    // the node took some (up to the relayer's budget) and refused the rest
    await waitFor(() => node.view.size >= MAX_RELAYED_AUTHORS_PER_PEER ? true : undefined, { timeoutMs: 30_000, what: 'the node to take the relayed summaries in' })
    await new Promise(resolve => setTimeout(resolve, 2000))
    const size = node.view.size
    assert.ok(size <= MAX_RELAYED_AUTHORS_PER_PEER + 2, `the view holds ${size} peers after ${FAKES} relayed fakes`)

    // a member that connects afterwards and announces itself is in the view
    const member = await HostilePeer.create({ psk })
    peers.push(member)
    member.node.services.pubsub.subscribe(SUMMARY_TOPIC)
    await member.connect(node.addrs()[0])
    const memberSummary = sampleSummary({ peerId: member.id, name: 'latecomer', seq: 1 })
    await waitFor(async () => {
      await member.node.services.pubsub.publish(SUMMARY_TOPIC, encodeGossip({ v: 1, kind: 'full', peerId: member.id, seq: Date.now(), prev: 0, at: Date.now(), summary: { ...memberSummary, seq: Date.now() } })).catch(() => {})
      return node.view.get(member.id) !== undefined ? true : undefined
    }, { timeoutMs: 20_000, intervalMs: 1000, what: 'the late member in the view' })
    assert.ok(node.peers().some(p => p.peerId === member.id && p.name === 'latecomer'))
    await stream.close().catch(() => {})
  })
})
