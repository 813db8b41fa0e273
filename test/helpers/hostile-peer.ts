/**
 * An independent attacker for the security tests: a libp2p node assembled from the
 * public packages (tcp, noise, yamux, pnet, gossipsub), not from procmesh's node
 * code, that speaks the mesh protocols' framing (varint length + JSON) by hand. Only
 * protocol ids come from protocols/ (they are the published spec).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'

export type HostileNode = Libp2p<{ pubsub: GossipSub, identify: unknown }>

export interface Reply { status: string, result?: unknown, code?: string, message?: string }

export class HostilePeer {
  readonly node: HostileNode
  private constructor (node: HostileNode) { this.node = node }

  /**
   * A fresh identity (or `privateKey`: a test that signs as this peer keeps its key); with `psk`
   * (a swarm.key file's bytes) a member of that mesh.
   */
  static async create (opts: { psk?: Uint8Array, listen?: string[], privateKey?: PrivateKey } = {}): Promise<HostilePeer> {
    const node = await createLibp2p({
      privateKey: opts.privateKey ?? await generateKeyPair('Ed25519'),
      addresses: { listen: opts.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      ...(opts.psk !== undefined ? { connectionProtector: preSharedKey({ psk: opts.psk }) } : {}),
      services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, globalSignaturePolicy: 'StrictSign', emitSelf: false }) }
    })
    return new HostilePeer(node as unknown as HostileNode)
  }

  get id (): string { return this.node.peerId.toString() }

  async connect (addr: string, timeoutMs = 10_000): Promise<PeerId> {
    const conn = await this.node.dial(multiaddr(addr), { signal: AbortSignal.timeout(timeoutMs) })
    return conn.remotePeer
  }

  /** One request frame, the final response frame back (frames of `more` are skipped). */
  async ask (peer: PeerId, protocol: string, payload: unknown, timeoutMs = 15_000): Promise<Reply> {
    const signal = AbortSignal.timeout(timeoutMs)
    const stream = await this.node.dialProtocol(peer, protocol, { signal })
    const lp = lpStream(stream, { maxDataLength: 64 * 1024 * 1024 })
    try {
      await lp.write(new TextEncoder().encode(JSON.stringify(payload)), { signal })
      for (;;) {
        const frame = JSON.parse(new TextDecoder().decode((await lp.read({ signal })).subarray())) as Reply
        if (frame.status !== 'more') return frame
      }
    } finally {
      await stream.close().catch(() => { stream.abort(new Error('close failed')) })
    }
  }

  async stop (): Promise<void> { await this.node.stop() }
}
