import { validateLsEntry } from '../../protocols/control-api.js'
import { parseCopyName } from '../../protocols/deploy.js'
import type { LsEntry, LsParams } from '../../protocols/control.js'
import type { ManagedProcess } from '../../protocols/managed.js'
import { failsCall } from './fan-out.js'
import { UsageError } from '../args.js'
import type { CommandSpec } from '../command.js'
import { formatBytes, formatDuration, formatLastExit, formatPercent, formatPolicy, table } from '../format.js'

/** One entry from the node (it forwards what peers sent); a broken entry that names its peer becomes its PROTOCOL_ERROR. */
export function parseLsEntry (value: unknown): LsEntry {
  return validateLsEntry(value)
}

/** Remote text for a terminal: control characters (ESC, newlines) shown as `?` (THREATS.md 27). */
export function printable (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
}

/** The deployment a managed process is a copy of (its name says so: NAME-vVERSION-SLOT), or null. */
export function deploymentOf (m: Pick<ManagedProcess, 'name'>): string | null {
  return parseCopyName(m.name)?.deployment ?? null
}

/** `ls --json`: each managed process with `deployment` (null unless it is a copy of one). */
export function withDeployments (entries: LsEntry[]): unknown[] {
  return entries.map(e => 'error' in e ? e : { ...e, processes: e.processes.map(m => ({ ...m, deployment: deploymentOf(m) })) })
}

/** The table `procmesh ls` prints (pure); a DEPLOYMENT column when a row is a deployment's copy. */
export function formatLs (entries: LsEntry[], now: number): string {
  const rows: string[][] = []
  const errors: string[] = []
  const deployments = entries.some(e => !('error' in e) && e.processes.some(m => deploymentOf(m) !== null))
  for (const e of entries) {
    if ('error' in e) { errors.push(`${printable(e.name)}: ${e.error.code}: ${printable(e.error.message)}`); continue }
    for (const m of e.processes) {
      const running = m.state === 'running'
      const state = m.state === 'restarting' && m.nextRestartAt !== null ? `restarting (${formatDuration(m.nextRestartAt - now + 999)})` : m.state
      rows.push([
        printable(m.name ?? '-'), ...(deployments ? [printable(deploymentOf(m) ?? '-')] : []), m.managedId, printable(e.name), running ? String(m.pid) : '-', state, String(m.restarts),
        running ? formatDuration(now - m.startTime) : '-', formatLastExit(m),
        m.cpuPercent !== null ? formatPercent(m.cpuPercent) : '-', m.rss !== null ? formatBytes(m.rss) : '-',
        formatPolicy(m), printable(m.argv.join(' '))
      ])
    }
  }
  const out = rows.length > 0
    ? table(['NAME', ...(deployments ? ['DEPLOYMENT'] : []), 'ID', 'HOST', 'PID', 'STATE', 'RESTARTS', 'UPTIME', 'LAST EXIT', 'CPU', 'RSS', 'POLICY', 'COMMAND'], rows,
      ['left', ...(deployments ? ['left' as const] : []), 'left', 'left', 'right', 'left', 'right', 'right', 'left', 'right', 'right', 'left', 'left'])
    : 'no managed processes'
  return errors.length > 0 ? `${out}\n${errors.join('\n')}` : out
}

export const lsCommand: CommandSpec = {
  usage: 'procmesh ls [TARGET] [--home DIR] [--json]\n' +
    '  managed processes (started with procmesh run) of TARGET (default: this node; all, tag:K=V work):\n' +
    '  name, id, host, pid, state (running, restarting, crash-loop, exited, stopped), restarts, uptime,\n' +
    '  last exit code or signal, CPU, RSS, restart policy; DEPLOYMENT for copies of a deployment',
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
    if (ctx.json) ctx.out(JSON.stringify(withDeployments(entries)))
    else ctx.out(formatLs(entries, Date.now()))
    // like ps: a host that was asked and did not answer fails the call
    return failsCall(entries) ? 1 : 0
  }
}
