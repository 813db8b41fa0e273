/** `peers` as a table and as JSON: the CLI, the web API and its event stream show the same entry. */
import type { PeerEntry } from '../protocols/types.js'
import type { HostJson } from './web/api-types.js'
import { formatAgo, formatBytes, formatHostAlerts, formatPercent, formatTags, safe, table } from './format.js'

/** The CLI contract's fields of a peers entry, in its order. */
export function peerJson (p: PeerEntry): HostJson {
  return {
    peerId: p.peerId,
    name: p.name,
    status: p.status,
    lastSeen: p.lastSeen,
    tags: p.tags,
    addrs: p.addrs,
    self: p.self,
    host: p.host,
    procCount: p.procCount,
    version: p.version,
    // how this node reaches it now; older nodes do not say
    ...(p.reach !== undefined ? { reach: p.reach } : {})
  }
}

/** Names claimed by more than one peer (a squatter, or two hosts set up alike): flagged under the table. */
export function duplicateNames (peers: PeerEntry[]): string[] {
  const byName = new Map<string, string[]>()
  for (const p of peers) byName.set(p.name, [...(byName.get(p.name) ?? []), p.peerId])
  return [...byName].filter(([, ids]) => ids.length > 1)
    .map(([name, ids]) => `warning: name ${JSON.stringify(safe(name))} is claimed by ${ids.length} peers (${ids.join(', ')}): name also used by ${ids.length - 1} other peer${ids.length > 2 ? 's' : ''}; target them by peer id`)
}

export function peersTable (peers: PeerEntry[], now: number): string {
  return [peersRows(peers, now), ...duplicateNames(peers)].join('\n')
}

function peersRows (peers: PeerEntry[], now: number): string {
  return table(
    ['NAME', 'STATUS', 'REACH', 'CPU', 'MEM', 'SWAP', 'DISK', 'PROCS', 'LOAD', 'LAST SEEN', 'PEER ID', 'TAGS', 'ALERTS'],
    peers.map(p => [
      p.self ? `${p.name} *` : p.name,
      p.status,
      p.self ? '-' : p.reach ?? '?',
      formatPercent(p.host.cpuPercent),
      `${formatBytes(p.host.memUsed)}/${formatBytes(p.host.memTotal)}`,
      p.host.swapTotal === undefined ? '-' : p.host.swapTotal === 0 ? 'none' : `${formatBytes(p.host.swapUsed ?? 0)}/${formatBytes(p.host.swapTotal)}`,
      fullestDisk(p),
      String(p.procCount),
      p.host.load.map(l => l.toFixed(2)).join(' '),
      p.self ? 'now' : formatAgo(p.lastSeen, now),
      p.peerId,
      formatTags(p.tags),
      formatHostAlerts(p.host.alerts)
    ]),
    ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'left', 'left', 'left', 'left', 'left']
  )
}

/** The fullest data filesystem as df reads it (`93% /var`), `-` when the host reports none. */
function fullestDisk (p: PeerEntry): string {
  const used = (p.host.disks ?? []).map(d => ({ mount: d.mount, pct: d.used + d.avail > 0 ? (d.used / (d.used + d.avail)) * 100 : 0 }))
  if (used.length === 0) return '-'
  const top = used.reduce((a, b) => b.pct > a.pct ? b : a)
  return `${Math.ceil(top.pct)}% ${safe(top.mount)}`
}
