/**
 * libp2p assembly: plain options in, a node out (Helia-style defaults function).
 * Transport TCP, Noise, yamux, identify, gossipsub, optional mDNS and pnet.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { createHash } from 'node:crypto'
import { createServer } from 'node:net'
import { MDNS_SERVICE_TAG, SUMMARY_TOPIC } from '../../protocols/ids.js'

export type ProcmeshLibp2p = Libp2p<{ identify: Identify, pubsub: GossipSub }>

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
/** mDNS query interval (ms): new nodes also query at start, so this only bounds rediscovery. */
export const MDNS_INTERVAL_MS = 5000
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
    addresses: { listen: opts.listen, announceFilter },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxInboundStreams: MAX_STREAMS_PER_CONNECTION, maxOutboundStreams: MAX_STREAMS_PER_CONNECTION })],
    ...(opts.psk !== undefined ? { connectionProtector: preSharedKey({ psk: opts.psk }) } : {}),
    ...(opts.gater !== undefined ? { connectionGater: opts.gater } : {}),
    peerDiscovery: opts.mdns ? [mdns({ serviceTag: MDNS_SERVICE_TAG, interval: MDNS_INTERVAL_MS })] : [],
    connectionManager: {
      maxConnections: MAX_CONNECTIONS,
      inboundUpgradeTimeout: INBOUND_UPGRADE_TIMEOUT_MS,
      maxIncomingPendingConnections: MAX_PENDING_INBOUND_CONNECTIONS,
      inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_HOST_PER_SECOND
    },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        globalSignaturePolicy: 'StrictSign',
        allowedTopics: [SUMMARY_TOPIC],
        maxInboundDataLength: GOSSIP_MAX_INBOUND_BYTES,
        emitSelf: false,
        // a small mesh: send every summary to every subscribed peer at once
        floodPublish: true,
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
