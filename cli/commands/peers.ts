import type { PeerEntry } from '../../protocols/types.js'
import type { CommandSpec } from '../command.js'
import { withClient } from '../control-client.js'
import { formatAgo, formatBytes, formatPercent, formatTags, table } from '../format.js'

/** The CLI contract's fields of a peers entry, in its order. */
export function peerJson (p: PeerEntry): Record<string, unknown> {
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
    version: p.version
  }
}

export function peersTable (peers: PeerEntry[], now: number): string {
  return table(
    ['NAME', 'STATUS', 'CPU', 'MEM', 'PROCS', 'LOAD', 'LAST SEEN', 'PEER ID', 'TAGS'],
    peers.map(p => [
      p.self ? `${p.name} *` : p.name,
      p.status,
      formatPercent(p.host.cpuPercent),
      `${formatBytes(p.host.memUsed)}/${formatBytes(p.host.memTotal)}`,
      String(p.procCount),
      p.host.load.map(l => l.toFixed(2)).join(' '),
      p.self ? 'now' : formatAgo(p.lastSeen, now),
      p.peerId,
      formatTags(p.tags)
    ]),
    ['left', 'left', 'right', 'right', 'right', 'left', 'left', 'left', 'left']
  )
}

export const peersCommand: CommandSpec = {
  usage: 'procmesh peers [--home DIR] [--json]',
  options: {},
  positionals: [0, 0],
  async run (ctx) {
    const peers = await withClient(ctx.home, async c => await c.peers())
    ctx.out(ctx.json ? JSON.stringify(peers.map(peerJson)) : peersTable(peers, Date.now()))
    return 0
  }
}
