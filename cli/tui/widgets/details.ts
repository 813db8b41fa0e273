/**
 * The details pane of one process: its facts, command line, parents and the tail of its logs.
 */
import type { ProcessInfo } from '../../../protocols/types.js'
import { formatBytes, formatCpuTime, formatUptime } from '../../format.js'
import { PROC_HISTORY_MS, type Details } from '../model.js'
import { processStyle } from './alerts.js'
import { scaledSparkline } from './charts.js'
import { UNICODE_GLYPHS, type Glyphs } from './glyphs.js'
import { esc, fit, sanitize, styled, wrap } from './text.js'

function dateTime (ms: number): string {
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

export function detailsTitle (d: Details): string {
  const logs = d.logs !== undefined ? (d.logs.ended !== undefined ? ' │ logs (ended)' : d.logs.scroll > 0 ? ' │ logs (scrolled back: End follows)' : ' │ logs (following)') : ''
  return ` ${sanitize(d.target.name)} (pid ${d.target.pid}) on ${sanitize(d.target.hostName)}${logs} `
}

/**
 * The process's own past from its host's history (issue 14): CPU and RSS over the last hour,
 * each scaled to its highest value; cells stay blank where it was not among the busiest.
 */
export function historyLine (d: Details, now: number, width: number, g: Glyphs): string | undefined {
  const h = d.history
  if (h === undefined) return undefined
  const span = `${PROC_HISTORY_MS / 3_600_000}h`
  if (h.note !== undefined) return `{grey-fg}${esc(fit(`history ${span}: ${sanitize(h.note)}`, width).trimEnd())}{/grey-fg}`
  if (h.points.length === 0) return `{grey-fg}${esc(fit(`history ${span}: not among the host's busiest processes in that time (only those are recorded)`, width).trimEnd())}{/grey-fg}`
  const cpuMax = Math.max(...h.points.map(p => p.cpu))
  const rssMax = Math.max(...h.points.map(p => p.rss))
  const cpuLabel = ` max ${cpuMax.toFixed(1)}%`
  const rssLabel = ` max ${formatBytes(rssMax)}`
  const fixed = `history ${span}  CPU ${cpuLabel}  RSS ${rssLabel}`.length
  const w = Math.max(4, Math.min(60, Math.floor((width - fixed) / 2)))
  const cpu = scaledSparkline(h.points.map(p => ({ at: p.at, value: p.cpu })), now, w, g, PROC_HISTORY_MS, Math.max(100, cpuMax))
  const rss = scaledSparkline(h.points.map(p => ({ at: p.at, value: p.rss })), now, w, g, PROC_HISTORY_MS, rssMax)
  return `history ${span}  CPU {cyan-fg}${esc(cpu)}{/cyan-fg}${esc(cpuLabel)}  RSS {magenta-fg}${esc(rss)}{/magenta-fg}${esc(rssLabel)}`
}

/** The details pane: facts, command line, parent chain, then the tail of the logs. */
export function detailsLines (d: Details, parents: readonly ProcessInfo[], now: number, width: number, height: number, g: Glyphs = UNICODE_GLYPHS): string[] {
  const p = d.snapshot
  const lines: string[] = []
  const gone = d.gone ? '  {red-fg}(no longer listed: it has exited){/red-fg}' : ''
  const figures = styled(`CPU ${p.cpuPercent.toFixed(1)}%  RSS ${formatBytes(p.rss)}${p.alert !== undefined ? ` (${p.alert})` : ''}`, processStyle(p.alert))
  lines.push(esc(`PID ${p.pid}  PPID ${p.ppid}  USER ${sanitize(p.user)} (uid ${p.uid})  STATE ${sanitize(p.state)}  `) + figures + gone)
  const sched = [
    p.threads !== undefined ? `THR ${p.threads}` : '',
    p.nice !== undefined ? `NI ${p.nice}` : '',
    p.priority !== undefined ? `PR ${p.priority}` : '',
    p.cpuTime !== undefined ? `TIME+ ${formatCpuTime(p.cpuTime)}` : ''
  ].filter(x => x !== '').join('  ')
  if (sched !== '') lines.push(esc(fit(sched, width).trimEnd()))
  const ran = Math.max(0, Math.round((now - p.startTime) / 1000))
  lines.push(esc(`started ${dateTime(p.startTime)} (running ${formatUptime(ran)})`) +
    (p.managedId !== undefined ? `  {magenta-fg}${esc(`managed ${p.managedName !== undefined ? `${sanitize(p.managedName)} ` : ''}${p.managedId}${p.startedBy !== undefined ? ` started by ${sanitize(p.startedBy)}` : ''}`)}{/magenta-fg}` : ''))
  const past = historyLine(d, now, width, g)
  if (past !== undefined) lines.push(past)
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
