/**
 * The header line: this node, the mesh's online count, CPU and memory, the connection, the clock.
 */
import type { PeerEntry } from '../../../protocols/types.js'
import { formatBytes } from '../../format.js'
import type { State } from '../model.js'
import { bar, cpuColor } from './charts.js'
import type { Glyphs } from './glyphs.js'
import { isReachableOnline } from './hosts.js'
import { esc, sanitize, stripTags, styled, textWidth } from './text.js'


export interface MeshTotals { online: number, total: number, cpuPercent: number, memUsed: number, memTotal: number }

/** Mesh-wide CPU (weighted by cores) and memory over the hosts that are not offline. */
export function meshTotals (hosts: readonly PeerEntry[]): MeshTotals {
  let cores = 0
  let busy = 0
  let memUsed = 0
  let memTotal = 0
  let online = 0
  for (const h of hosts) {
    if (isReachableOnline(h)) online++
    if (h.status === 'offline') continue
    const c = Math.max(1, h.host.cpus)
    cores += c
    busy += h.host.cpuPercent * c
    memUsed += h.host.memUsed
    memTotal += h.host.memTotal
  }
  return { online, total: hosts.length, cpuPercent: cores > 0 ? busy / cores : 0, memUsed, memTotal }
}

function clock (ms: number): string {
  const d = new Date(ms)
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map(n => String(n).padStart(2, '0')).join(':')
}

export function headerText (s: State, width: number, g: Glyphs): string {
  const t = meshTotals(s.hosts)
  const self = s.hosts.find(h => h.self)
  const conn = s.connection === 'up'
    ? ''
    : s.connection === 'down'
      ? ` {red-fg}${esc(s.connectionNote !== '' ? s.connectionNote : 'node restarting…')}{/red-fg} │`
      : ` {yellow-fg}${esc(s.connectionNote !== '' ? s.connectionNote : 'connecting…')}{/yellow-fg} │`
  const cpu = `CPU ${styled(`${t.cpuPercent.toFixed(1)}%`, `${cpuColor(t.cpuPercent)}-fg`)}`
  const cpuBar = ` ${styled(bar(t.cpuPercent, 10, g), `${cpuColor(t.cpuPercent)}-fg`)}`
  const body = `node ${styled(sanitize(self?.name ?? '?'), 'bold')} │ mesh ${t.online}/${t.total} online │ `
  const mem = ` │ MEM ${formatBytes(t.memUsed)}/${formatBytes(t.memTotal)} │${conn}`
  // narrow terminals lose the title, then the bar, before the figures and the clock
  const room = width - clock(s.now).length - 1
  const candidates = [`{bold}procmesh top{/bold} │ ${body}${cpu}${cpuBar}${mem}`, `${body}${cpu}${cpuBar}${mem}`, `${body}${cpu}${mem}`]
  const left = candidates.find(c => textWidth(stripTags(c)) <= room) ?? candidates[candidates.length - 1]
  const right = clock(s.now)
  const pad = Math.max(1, width - textWidth(stripTags(left)) - right.length)
  return left + ' '.repeat(pad) + right
}
