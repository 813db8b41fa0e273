/**
 * A query of several hosts for the control API (`ps`, `ls`, `history`, `audit`): every
 * host is asked at once, a host that fails becomes an entry with its error (the others
 * still answer), and each entry is streamed as a notification as it arrives.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerError } from '../../protocols/control.js'
import { ProcmeshError, toProcmeshError } from '../../protocols/errors.js'
import type { PeerEntry } from '../../protocols/types.js'
import type { ProtocolDescriptor } from '../../protocols/wire.js'
import type { ProcmeshLibp2p } from '../mesh/libp2p.js'
import { request, type RequestOptions } from '../mesh/reqresp.js'

/** A request to another member over a mesh protocol; a peer the view marks offline is not dialled. */
export async function askPeer<Req, Res> (libp2p: ProcmeshLibp2p, peer: PeerEntry, desc: ProtocolDescriptor<Req, Res>, req: Req, opts: RequestOptions = {}): Promise<Res> {
  if (peer.status === 'offline') throw new ProcmeshError('PEER_OFFLINE', `${peer.name} is offline (last seen ${new Date(peer.lastSeen).toISOString()})`)
  // errors name the host, not its peer id (issue 19 item 7)
  return await request(libp2p, peerIdFromString(peer.peerId), desc, req, { peerName: peer.name, ...opts })
}

export type PeerAnswer<T> = ({ peerId: string, name: string } & T) | { peerId: string, name: string, error: PeerError }

export async function askEach<T extends object> (peers: readonly PeerEntry[], ask: (peer: PeerEntry) => Promise<T>, notify: (entry: PeerAnswer<T>) => void): Promise<Array<PeerAnswer<T>>> {
  return await Promise.all(peers.map(async (peer): Promise<PeerAnswer<T>> => {
    let entry: PeerAnswer<T>
    try {
      entry = { peerId: peer.peerId, name: peer.name, ...(await ask(peer)) }
    } catch (err: unknown) {
      entry = { peerId: peer.peerId, name: peer.name, error: toProcmeshError(err).toJSON() }
    }
    notify(entry)
    return entry
  }))
}
