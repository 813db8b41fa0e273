/**
 * TARGET resolution (pure): a node name, a peer id or a unique prefix of one,
 * `tag:KEY=VALUE`, `all`, or `self`.
 *
 * Names come from gossip, so any member can pick one (issue 17 finding 3): a target
 * that reads as a peer id or a prefix of one (`12D3KooW...`, the form `ps all` shows)
 * matches peer ids only, never a name; two nodes under one name make that name
 * ambiguous unless exactly one of them is this node or the peer this node's trust
 * file knows under that name (the squatter never wins).
 */
import { ProcmeshError } from '../../protocols/errors.js'
import { looksLikePeerId } from '../../protocols/text.js'
import type { PeerEntry } from '../../protocols/types.js'

export interface ResolveOptions {
  /** the name this node's trust file records for a peer: breaks a tie between nodes claiming one name */
  trustedName?: (peerId: string) => string | undefined
}

export interface Resolved {
  /** the matching peers */
  peers: PeerEntry[]
  /** true for `all` and `tag:` targets, which fan out and report per-peer errors */
  fanOut: boolean
}

function describe (p: PeerEntry): string {
  return `${p.name} (${p.peerId})`
}

export function resolveTargets (target: string, entries: PeerEntry[], opts: ResolveOptions = {}): Resolved {
  const t = target.trim()
  if (t === '' ) throw new ProcmeshError('INVALID_REQUEST', 'target: must not be empty')
  if (t === 'self') {
    const self = entries.filter(e => e.self)
    if (self.length === 0) throw new ProcmeshError('UNAVAILABLE', 'this node has not sampled itself yet; try again in a moment')
    return { peers: self, fanOut: false }
  }
  if (t === 'all') return { peers: entries, fanOut: true }
  if (t.startsWith('tag:')) {
    const spec = t.slice(4)
    const eq = spec.indexOf('=')
    if (eq <= 0) throw new ProcmeshError('INVALID_REQUEST', `target ${JSON.stringify(target)}: expected tag:KEY=VALUE`)
    const key = spec.slice(0, eq)
    const value = spec.slice(eq + 1)
    return { peers: entries.filter(e => e.tags[key] === value), fanOut: true }
  }
  const byId = entries.filter(e => e.peerId === t)
  if (byId.length === 1) return { peers: byId, fanOut: false }
  const idLike = looksLikePeerId(t)
  const byName = idLike ? [] : entries.filter(e => e.name === t)
  if (byName.length === 1) {
    // a name that is also the start of another node's peer id: the name may be a squatter's
    const shadowed = entries.filter(e => e !== byName[0] && e.peerId.startsWith(t))
    if (shadowed.length === 0) return { peers: byName, fanOut: false }
    throw new ProcmeshError('AMBIGUOUS_PEER', `target ${JSON.stringify(target)} is the name of ${describe(byName[0])} and a prefix of ${shadowed.map(describe).join(', ')}; use a whole peer id`)
  }
  if (byName.length > 1) {
    const self = byName.filter(e => e.self)
    if (self.length === 1) return { peers: self, fanOut: false }
    const trusted = byName.filter(e => opts.trustedName?.(e.peerId) === t)
    if (trusted.length === 1) return { peers: trusted, fanOut: false }
    throw new ProcmeshError('AMBIGUOUS_PEER', `target ${JSON.stringify(target)} matches ${byName.length} nodes: ${byName.map(describe).join(', ')}; use a peer id`)
  }
  const byPrefix = entries.filter(e => e.peerId.startsWith(t))
  if (byPrefix.length === 1) return { peers: byPrefix, fanOut: false }
  if (byPrefix.length > 1) {
    throw new ProcmeshError('AMBIGUOUS_PEER', `target ${JSON.stringify(target)} is a prefix of ${byPrefix.length} peer ids: ${byPrefix.map(describe).join(', ')}`)
  }
  const known = entries.map(e => e.name).join(', ')
  throw new ProcmeshError('UNKNOWN_PEER', `no peer named or with id ${JSON.stringify(target)} in the mesh (known: ${known === '' ? 'none' : known})`)
}
