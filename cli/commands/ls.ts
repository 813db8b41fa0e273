import { validateLsEntry } from '../../protocols/control-api.js'
import type { LsEntry, LsParams } from '../../protocols/control.js'
import type { ManagedProcess } from '../../protocols/managed.js'
import { unanswered } from './fan-out.js'
import { UsageError } from '../args.js'
import type { CommandSpec } from '../command.js'
import { formatBytes, formatPercent, table } from '../format.js'

/** One entry from the node (it forwards what peers sent); a broken entry that names its peer becomes its PROTOCOL_ERROR. */
export function parseLsEntry (value: unknown): LsEntry {
  return validateLsEntry(value)
}

/** Remote text for a terminal: control characters (ESC, newlines) shown as `?` (THREATS.md 27). */
export function printable (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
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
export function formatLastExit (m: ManagedProcess): string {
  const e = m.lastExit
  if (e === null) return '-'
  if (e.signal !== null) return e.signal.startsWith('SIG') ? e.signal : `SIG${e.signal}`
  if (e.code !== null) return String(e.code)
  return e.whileDown ? '? (node down)' : '?'
}

export function formatPolicy (m: ManagedProcess): string {
  return m.policy.restart === 'no' ? 'no' : `${m.policy.restart}/${m.policy.maxRestarts}`
}

/** The table `procmesh ls` prints (pure). */
export function formatLs (entries: LsEntry[], now: number): string {
  const rows: string[][] = []
  const errors: string[] = []
  for (const e of entries) {
    if ('error' in e) { errors.push(`${printable(e.name)}: ${e.error.code}: ${printable(e.error.message)}`); continue }
    for (const m of e.processes) {
      const running = m.state === 'running'
      const state = m.state === 'restarting' && m.nextRestartAt !== null ? `restarting (${formatDuration(m.nextRestartAt - now + 999)})` : m.state
      rows.push([
        printable(m.name ?? '-'), m.managedId, printable(e.name), running ? String(m.pid) : '-', state, String(m.restarts),
        running ? formatDuration(now - m.startTime) : '-', formatLastExit(m),
        m.cpuPercent !== null ? formatPercent(m.cpuPercent) : '-', m.rss !== null ? formatBytes(m.rss) : '-',
        formatPolicy(m), printable(m.argv.join(' '))
      ])
    }
  }
  const out = rows.length > 0
    ? table(['NAME', 'ID', 'HOST', 'PID', 'STATE', 'RESTARTS', 'UPTIME', 'LAST EXIT', 'CPU', 'RSS', 'POLICY', 'COMMAND'], rows,
      ['left', 'left', 'left', 'right', 'left', 'right', 'right', 'left', 'right', 'right', 'left', 'left'])
    : 'no managed processes'
  return errors.length > 0 ? `${out}\n${errors.join('\n')}` : out
}

export const lsCommand: CommandSpec = {
  usage: 'procmesh ls [TARGET] [--home DIR] [--json]\n' +
    '  managed processes (started with procmesh run) of TARGET (default: this node; all, tag:K=V work):\n' +
    '  name, id, host, pid, state (running, restarting, crash-loop, exited, stopped), restarts, uptime,\n' +
    '  last exit code or signal, CPU, RSS, restart policy',
  options: {},
  positionals: [0, 1],
  async run (ctx, _values, positionals) {
    const target = positionals[0] ?? 'self'
    if (target === '') throw new UsageError('TARGET: must not be empty')
    const params: LsParams = { target }
    const client = await ctx.connect()
    let entries: LsEntry[]
    try {
      entries = await client.ls(params)
    } finally {
      client.close()
    }
    if (ctx.json) ctx.out(JSON.stringify(entries))
    else ctx.out(formatLs(entries, Date.now()))
    // like ps: a host that was asked and did not answer fails the call
    return unanswered(entries).length > 0 ? 1 : 0
  }
}
