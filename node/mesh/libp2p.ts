/**
 * libp2p assembly: plain options in, a node out (Helia-style defaults function).
 * Transport TCP, Noise, yamux, identify, gossipsub, optional mDNS and pnet.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import type { ConnectionGater, PeerDiscovery, PrivateKey } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { createHash } from 'node:crypto'
import { createServer } from 'node:net'
import { DEPLOY_TOPIC, MDNS_SERVICE_TAG, SUMMARY_TOPIC } from '../../protocols/ids.js'
import { RELAY_LISTEN_ADDR, relayServer, relayTransport, type CircuitRelayService } from './relay.js'

// eslint-disable-next-line @typescript-eslint/consistent-type-definitions -- a ServiceMap needs an index signature, which only a type alias has implicitly
export type ProcmeshServices = {
  identify: Identify
  pubsub: GossipSub
  /** present when mDNS is on; paced by MdnsPacer (node/mesh/mdns-pacer.ts) */
  mdns?: PeerDiscovery
  /** circuit relay v2 for members (node/mesh/relay.ts) */
  relay: CircuitRelayService
}
export type ProcmeshLibp2p = Libp2p<ProcmeshServices>

/** Connections held at most: a LAN mesh of a few hundred hosts, bounded against floods. */
export const MAX_CONNECTIONS = 300
/** A connection must finish Noise + muxer negotiation within this (ms): slow handshakes are cut. */
export const INBOUND_UPGRADE_TIMEOUT_MS = 5000
/**
 * Inbound connections still in the handshake (pnet + Noise + muxer), all hosts
 * together. The gater (node/security/admission.ts) caps them per host and keeps part
 * of them for known hosts, and cuts an unknown host's silent connection after 2 s;
 * with 10 slots, 5 silent connects a second from one keyless host locked every new
 * member out (issue 17 finding 4).
 */
export const MAX_PENDING_INBOUND_CONNECTIONS = 64
/**
 * New inbound connections per second from one IP address; more are refused before
 * any handshake. A mesh host opens one connection per peer, re-dials back off.
 */
export const INBOUND_CONNECTIONS_PER_HOST_PER_SECOND = 5
/**
 * Streams one connection may have open at once, per direction (yamux). The
 * per-protocol caps in protocols/messages.ts add up to a few dozen with identify and
 * gossipsub; past this a flooding peer's streams are reset before any protocol
 * negotiation, at the muxer (yamux's own default is 1,000).
 */
export const MAX_STREAMS_PER_CONNECTION = 256
/**
 * mDNS query interval once a node has peers (ms): in effect never. Every answer is multicast,
 * so every query costs every node on the LAN one packet per node: periodic queries from N nodes
 * cost each node N^2 packets per interval (at 100 hosts and a minute, 170 packets a second).
 * A new node queries the moment it starts; a node with no connection at all asks every
 * MDNS_SEARCH_INTERVAL_MS (MdnsPacer); members learn each other's addresses from the summaries
 * (node/mesh/reach.ts) once one connection exists.
 */
export const MDNS_INTERVAL_MS = 24 * 60 * 60 * 1000
export const MDNS_SEARCH_INTERVAL_MS = 3000

// ---- gossipsub, tuned for change-driven gossip on a LAN (measured: README, Benchmarks) ----
/**
 * Mesh degree. Every node receives each message about D times (once per mesh peer), so D is
 * the duplicate factor of every byte gossiped. 3 keeps a connected mesh with a diameter of
 * about log3(N) hops (3 at 20 hosts, 6 at 500) and halves the copies of the default 6.
 */
export const GOSSIP_D = 3
export const GOSSIP_D_LOW = 2
export const GOSSIP_D_HIGH = 5
/** Peers outside the mesh told of recent message ids each heartbeat: heals a broken mesh path cheaply. */
export const GOSSIP_D_LAZY = 2
/**
 * No flood publishing: with deltas sent only on change, a publisher reaching its D mesh
 * peers is enough, and flooding sent every message to all N-1 peers directly.
 */
export const GOSSIP_FLOOD_PUBLISH = false
/** gossipsub RPC frames: summaries are capped at 4 KiB; leave room for control messages. */
export const GOSSIP_MAX_INBOUND_BYTES = 64 * 1024

export interface Libp2pOptions {
  privateKey: PrivateKey
  listen: string[]
  mdns: boolean
  psk?: Uint8Array
  gater?: ConnectionGater
}

function isLoopback (ma: Multiaddr): boolean {
  const s = ma.toString()
  return s.startsWith('/ip4/127.') || s.startsWith('/ip6/::1/')
}

/**
 * Loopback addresses are not announced to other hosts (mDNS would otherwise tell
 * the LAN to dial 127.0.0.1). A node that listens on loopback only keeps them,
 * since only same-host nodes can reach it anyway.
 */
export function announceFilter (addrs: Multiaddr[]): Multiaddr[] {
  const external = addrs.filter(a => !isLoopback(a))
  return external.length > 0 ? external : addrs
}

/** Replace the port of listen addresses that are taken by 0, and drop families the host lacks. */
export async function resolveListen (listen: string[]): Promise<string[]> {
  const out: string[] = []
  for (const ma of listen) {
    const m = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)$/.exec(ma)
    if (m === null || m[3] === '0') { out.push(ma); continue }
    const result = await probePort(m[2], Number(m[3]))
    if (result === 'ok') out.push(ma)
    else if (result === 'in-use') out.push(`/${m[1]}/${m[2]}/tcp/0`)
    // 'unsupported': e.g. IPv6 disabled in this namespace
  }
  return out
}

function probePort (host: string, port: number): Promise<'ok' | 'in-use' | 'unsupported'> {
  return new Promise(resolve => {
    const srv = createServer()
    srv.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'EADDRINUSE' || err.code === 'EACCES' ? 'in-use' : 'unsupported')
    })
    srv.listen({ host, port, exclusive: true }, () => { srv.close(() => { resolve('ok') }) })
  })
}

export async function createProcmeshLibp2p (opts: Libp2pOptions): Promise<ProcmeshLibp2p> {
  return createLibp2p({
    privateKey: opts.privateKey,
    start: false,
    // RELAY_LISTEN_ADDR: one reservation on a member, for members that cannot dial us (relay.ts)
    addresses: { listen: [...opts.listen, RELAY_LISTEN_ADDR], announceFilter },
    transports: [tcp(), relayTransport()],
    connectionEncrypters: [noise()],
    // no yamux keep-alive pings (every connection every 30 s): node/mesh/prober.ts probes one member a second
    streamMuxers: [yamux({ maxInboundStreams: MAX_STREAMS_PER_CONNECTION, maxOutboundStreams: MAX_STREAMS_PER_CONNECTION, enableKeepAlive: false })],
    ...(opts.psk !== undefined ? { connectionProtector: preSharedKey({ psk: opts.psk }) } : {}),
    ...(opts.gater !== undefined ? { connectionGater: opts.gater } : {}),
    // liveness comes from node/mesh/prober.ts: one probe per second whatever the mesh size,
    // instead of a ping of every connection every 10 s from both ends
    connectionMonitor: { enabled: false },
    connectionManager: {
      maxConnections: MAX_CONNECTIONS,
      inboundUpgradeTimeout: INBOUND_UPGRADE_TIMEOUT_MS,
      maxIncomingPendingConnections: MAX_PENDING_INBOUND_CONNECTIONS,
      inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_HOST_PER_SECOND
    },
    services: {
      ...(opts.mdns ? { mdns: mdns({ serviceTag: MDNS_SERVICE_TAG, interval: MDNS_INTERVAL_MS }) } : {}),
      identify: identify(),
      relay: relayServer(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        globalSignaturePolicy: 'StrictSign',
        allowedTopics: [SUMMARY_TOPIC, DEPLOY_TOPIC],
        maxInboundDataLength: GOSSIP_MAX_INBOUND_BYTES,
        emitSelf: false,
        floodPublish: GOSSIP_FLOOD_PUBLISH,
        D: GOSSIP_D,
        Dlo: GOSSIP_D_LOW,
        Dhi: GOSSIP_D_HIGH,
        Dlazy: GOSSIP_D_LAZY,
        // outbound mesh peers kept (must be < Dlo and <= D/2) and peers kept by score on prune
        Dout: 1,
        Dscore: 2,
        // IHAVE gossip goes to exactly Dlazy peers (the default 25% of non-mesh peers grows with
        // the mesh), about the messages of the last 2 heartbeats (default 3): our messages are
        // few and small, the IHAVEs about them were a large part of an idle node's packets
        gossipFactor: 0,
        mcacheGossip: 2,
        // IDONTWANT pays off for large messages; ours stay under 4 KiB and mostly under 1 KiB,
        // where the IDONTWANT sent to every mesh peer costs more than the duplicate it saves
        idontwantMinDataSize: 64 * 1024,
        // drop duplicate copies before their signature is checked (without this every copy is
        // verified, ~19% of an idle node's CPU at 20 hosts); from + seqno is gossipsub's own id
        // under StrictSign, so this only skips work already done for the same message
        fastMsgIdFn: msg => msg.from != null && msg.seqno != null
          ? Buffer.concat([msg.from, msg.seqno]).toString('base64')
          : createHash('sha256').update(msg.data ?? new Uint8Array()).digest('base64'),
        // a private (pnet) mesh: several nodes behind one address (a NAT, or 127.0.0.1) are
        // normal, so gossipsub's per-IP colocation penalty would only graylist honest peers
        scoreParams: { IPColocationFactorWeight: 0 }
      })
    }
  })
}
