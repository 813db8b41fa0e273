/** Pure formatting helpers for human output. */
import type { ManagedProcess } from '../protocols/managed.js'
import type { HostAlert } from '../protocols/types.js'
import { safeText } from '../protocols/text.js'

/**
 * Remote text for a terminal (names, tags, hostnames, cmd, users, audit fields, error
 * messages from other nodes): control characters shown as visible escapes, so no
 * remote string can set a title, colour, the clipboard (OSC 52) or forge a line.
 */
export const safe = safeText

/** A ps answer for human output: every remote string made safe (JSON output keeps them, escaped by JSON). */
export function safePsEntry<E extends { name: string, processes?: Array<{ name: string, cmd: string, user: string, state: string }>, error?: { code: string, message: string } }> (entry: E): E {
  return {
    ...entry,
    name: safeText(entry.name),
    ...(entry.processes !== undefined ? { processes: entry.processes.map(p => ({ ...p, name: safeText(p.name), cmd: safeText(p.cmd), user: safeText(p.user), state: safeText(p.state) })) } : {}),
    ...(entry.error !== undefined ? { error: { ...entry.error, message: safeText(entry.error.message) } } : {})
  }
}

export function formatBytes (n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-'
  const units = ['B', 'K', 'M', 'G', 'T']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${v}B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)}${units[i]}`
}

export function formatPercent (n: number): string {
  return `${n.toFixed(1)}%`
}

/** "3s ago", "2m ago", "1h ago" relative to now. */
export function formatAgo (then: number, now: number): string {
  const s = Math.max(0, Math.round((now - then) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86400)}d ago`
}

export function formatUptime (seconds: number): string {
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  if (d > 0) return `${d}d${h}h`
  if (h > 0) return `${h}h${m}m`
  return `${m}m`
}

/** Start time: HH:MM today, else Mon DD. */
export function formatStart (ms: number, now: number): string {
  const d = new Date(ms)
  const today = new Date(now)
  if (d.toDateString() === today.toDateString()) {
    return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
  }
  return d.toLocaleDateString('en-US', { month: 'short', day: '2-digit' })
}

export function formatTags (tags: Record<string, string>): string {
  return Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(',')
}

export function shortId (peerId: string): string {
  return peerId.length > 12 ? `${peerId.slice(0, 6)}…${peerId.slice(-4)}` : peerId
}

export type Align = 'left' | 'right'

/** A plain text table; columns sized to content, last column unpadded. Every cell is made safe (see `safe`). */
export function table (headers: string[], rawRows: string[][], align: Align[] = []): string {
  const rows = rawRows.map(r => r.map(c => safeText(c)))
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => {
    if (i === cells.length - 1 && align[i] !== 'right') return c
    return align[i] === 'right' ? c.padStart(widths[i]) : c.padEnd(widths[i])
  }).join('  ').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

/** `3s`, `4m12s`, `2h05m`, `3d4h`. */
export function formatDuration (ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`
}

/** `0`, `1`, `SIGKILL`, `?` (exited while no node watched), `-` (never exited). */
export function formatLastExit (m: Pick<ManagedProcess, 'lastExit'>): string {
  const e = m.lastExit
  if (e === null) return '-'
  if (e.signal !== null) return e.signal.startsWith('SIG') ? e.signal : `SIG${e.signal}`
  if (e.code !== null) return String(e.code)
  return e.whileDown ? '? (node down)' : '?'
}

/** `no`, or `on-failure/10`: the policy and its restart budget. */
export function formatPolicy (m: ManagedProcess): string {
  return m.policy.restart === 'no' ? 'no' : `${m.policy.restart}/${m.policy.maxRestarts}`
}

/** htop's TIME+: `M:SS.hh` under an hour, `HhMM:SS` beyond (CPU seconds). */
export function formatCpuTime (seconds: number): string {
  const whole = Math.floor(seconds)
  const h = Math.floor(whole / 3600)
  const m = Math.floor((whole % 3600) / 60)
  const ss = String(whole % 60).padStart(2, '0')
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}:${ss}`
  return `${m}:${ss}.${String(Math.floor((seconds - whole) * 100)).padStart(2, '0')}`
}

/** A host's alerts at warning or above, e.g. `disk / 93% CRITICAL, mem 72% WARNING` (careful ones are for --json and the TUI). */
export function formatHostAlerts (alerts: readonly HostAlert[] | undefined): string {
  return (alerts ?? []).filter(a => a.level !== 'careful').map(a => {
    const what = a.metric === 'disk' ? `disk ${safe(a.mount ?? '')}` : a.metric
    const value = a.metric === 'load' ? `${a.value.toFixed(1)}/core` : `${Math.round(a.value)}%`
    return `${what} ${value} ${a.level.toUpperCase()}`
  }).join(', ')
}

