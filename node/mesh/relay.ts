/**
 * Circuit relay v2 between members: every node is a small relay for the others and
 * holds one reservation on a member it is connected to, so a member that no other
 * member can dial (only outbound traffic allowed, a NAT, a subnet without a route
 * back) is still reached through a member that can reach it.
 *
 * Only members use it: a relay serves peers connected to it, and in a private mesh
 * every connection has passed the pnet handshake and the gater; the relayed
 * connection itself is again pnet + Noise + yamux end to end, so the relay sees
 * ciphertext only. No public relays, no relay discovery beyond connected members.
 */
import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { Multiaddr } from '@multiformats/multiaddr'

export type { CircuitRelayService }

/** The listen address that asks the relay transport for one reservation on a relay it is connected to. */
export const RELAY_LISTEN_ADDR = '/p2p-circuit'

/**
 * Reservations one node holds for others. Every member reserves on one relay, and the
 * first member it connects to is usually its bootstrap or an mDNS neighbour; a node
 * that is full refuses and the member tries the next relay it is connected to.
 */
export const RELAY_MAX_RESERVATIONS = 64
/**
 * Relayed connections a node sets up at once for one connected member (HOP streams
 * per connection): a member dials each peer once; re-dials back off.
 */
export const RELAY_MAX_INBOUND_HOP_STREAMS = 32
/** Relayed connections this node carries at once in total (STOP streams it opens). */
export const RELAY_MAX_OUTBOUND_STOP_STREAMS = 256
/** A relay request (HOP) must be answered within this (ms). */
export const RELAY_HOP_TIMEOUT_MS = 10_000
/** A reservation is renewed by its holder before this (ms): an hour bounds a vanished holder's slot. */
export const RELAY_RESERVATION_TTL_MS = 60 * 60 * 1000

/** The relay transport (dial and listen on `/p2p-circuit` addresses). */
export function relayTransport (): ReturnType<typeof circuitRelayTransport> {
  return circuitRelayTransport({ reservationCompletionTimeout: RELAY_HOP_TIMEOUT_MS })
}

/**
 * The relay service. No per-connection data or time limit (libp2p's default is
 * 128 KiB / 2 min, meant for public relays that only help hole punching): here the
 * relayed connection is the member's only path for ps, logs --follow and run, and
 * it is bounded by the reservation and stream counts above instead.
 */
export function relayServer (): ReturnType<typeof circuitRelayServer> {
  return circuitRelayServer({
    hopTimeout: RELAY_HOP_TIMEOUT_MS,
    maxInboundHopStreams: RELAY_MAX_INBOUND_HOP_STREAMS,
    maxOutboundStopStreams: RELAY_MAX_OUTBOUND_STOP_STREAMS,
    reservations: {
      maxReservations: RELAY_MAX_RESERVATIONS,
      reservationTtl: RELAY_RESERVATION_TTL_MS,
      applyDefaultLimit: false
    }
  })
}

/** True for an address through a relay (`.../p2p/RELAY/p2p-circuit/...`). */
export function isRelayed (ma: Multiaddr | string): boolean {
  return ma.toString().includes('/p2p-circuit')
}
