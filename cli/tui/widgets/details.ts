/**
 * The details pane of one process: its facts, command line, parents and the tail of its logs.
 */
import type { ProcessInfo } from '../../../protocols/types.js'
import { formatBytes, formatUptime } from '../../format.js'
import type { Details } from '../model.js'
import { esc, fit, sanitize, wrap } from './text.js'

function dateTime (ms: number): string {
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

export function detailsTitle (d: Details): string {
  const logs = d.logs !== undefined ? (d.logs.ended !== undefined ? ' │ logs (ended)' : d.logs.scroll > 0 ? ' │ logs (scrolled back: End follows)' : ' │ logs (following)') : ''
  return ` ${sanitize(d.target.name)} (pid ${d.target.pid}) on ${sanitize(d.target.hostName)}${logs} `
}

/** The details pane: facts, command line, parent chain, then the tail of the logs. */
export function detailsLines (d: Details, parents: readonly ProcessInfo[], now: number, width: number, height: number): string[] {
  const p = d.snapshot
  const lines: string[] = []
  const gone = d.gone ? '  {red-fg}(no longer listed: it has exited){/red-fg}' : ''
  lines.push(esc(`PID ${p.pid}  PPID ${p.ppid}  USER ${sanitize(p.user)} (uid ${p.uid})  STATE ${sanitize(p.state)}  CPU ${p.cpuPercent.toFixed(1)}%  RSS ${formatBytes(p.rss)}`) + gone)
  const ran = Math.max(0, Math.round((now - p.startTime) / 1000))
  lines.push(esc(`started ${dateTime(p.startTime)} (running ${formatUptime(ran)})`) +
    (p.managedId !== undefined ? `  {magenta-fg}${esc(`managed ${p.managedName !== undefined ? `${sanitize(p.managedName)} ` : ''}${p.managedId}${p.startedBy !== undefined ? ` started by ${sanitize(p.startedBy)}` : ''}`)}{/magenta-fg}` : ''))
  const chain = parents.length > 0 ? parents.map(x => `${x.pid} ${sanitize(x.name)}`).join(' ← ') : '(none listed)'
  lines.push(esc(fit(`parents: ${chain}`, width).trimEnd()))
  const cmd = wrap(`cmd: ${sanitize(p.cmd !== '' ? p.cmd : `[${p.name}]`)}`, width)
  const logs = d.logs
  // the command line gets at most half the pane when logs share it
  const cmdRoom = logs !== undefined ? Math.max(1, Math.floor(height / 2) - lines.length) : height - lines.length
  const shownCmd = cmd.slice(0, Math.max(1, cmdRoom))
  // a cut command line ends in an ellipsis, so nobody mistakes it for the whole
  if (shownCmd.length < cmd.length) shownCmd[shownCmd.length - 1] = Array.from(shownCmd[shownCmd.length - 1]).slice(0, Math.max(0, width - 1)).join('') + '…'
  lines.push(...shownCmd.map(esc))
  if (logs === undefined) return lines.slice(0, height)
  const state = logs.ended !== undefined ? (logs.failed === true ? `{red-fg}${esc(logs.ended)}{/red-fg}` : esc(logs.ended)) : 'following'
  lines.push(`{bold}── logs ─{/bold} ${state}`)
  const room = Math.max(0, height - lines.length)
  const all = logs.partial !== '' ? [...logs.lines, logs.partial] : logs.lines
  const end = Math.max(0, all.length - logs.scroll)
  const tail = all.slice(Math.max(0, end - room), end)
  if (tail.length === 0 && room > 0) lines.push('{grey-fg}(no output yet){/grey-fg}')
  for (const l of tail) lines.push(esc(fit(sanitize(l), width, 'left')).trimEnd())
  return lines.slice(0, height)
}
