/**
 * TARGET resolution (pure): a node name, a peer id or a unique prefix of one,
 * `tag:KEY=VALUE`, `all`, or `self`.
 */
import { ProcmeshError } from '../../protocols/errors.js'
import type { PeerEntry } from '../../protocols/types.js'

export interface Resolved {
  /** the matching peers */
  peers: PeerEntry[]
  /** true for `all` and `tag:` targets, which fan out and report per-peer errors */
  fanOut: boolean
}

function describe (p: PeerEntry): string {
  return `${p.name} (${p.peerId})`
}

export function resolveTargets (target: string, entries: PeerEntry[]): Resolved {
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
  const byName = entries.filter(e => e.name === t)
  if (byName.length === 1) return { peers: byName, fanOut: false }
  if (byName.length > 1) {
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
