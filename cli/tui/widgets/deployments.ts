/**
 * The deployments overlay (`D`): one row per deployment with its version, desired vs running
 * copies and the hosts running them, then a line per reason its replicas cannot be placed.
 * Pure: the lines for a width, so the reducer's scrolling and the drawing agree
 * (selectors.ts deploymentLineCount counts the same lines).
 */
import type { DeploymentStatus, ReplicaStatus } from '../../../protocols/deploy.js'
import { formatAgo } from '../../format.js'
import type { DeploymentsView } from '../model.js'
import type { Glyphs } from './glyphs.js'
import { esc, fit, fitColumns, headerLine, rowLine, sanitize, type Column } from './text.js'

/** `2/3`, with copies of older versions still running during a roll (`2/3 +1 old`). */
export function countsCell (d: DeploymentStatus): string {
  return `${d.running}/${d.desired}${d.old > 0 ? ` +${d.old} old` : ''}`
}

/** Green when every wanted copy runs and nothing is wrong, red when none runs, yellow between. */
export function countsStyle (d: DeploymentStatus): string {
  if (d.desired > 0 && d.running === 0) return 'red-fg bold'
  if (d.running < d.desired || d.problems.length > 0) return 'yellow-fg'
  return 'green-fg'
}

/** The hosts of a deployment's copies: a running copy by its host's name, any other with its state (`gamma:starting`). */
export function hostsCell (placed: readonly ReplicaStatus[]): string {
  if (placed.length === 0) return '-'
  const running = placed.filter(p => p.state === 'running').map(p => sanitize(p.host))
  const others = placed.filter(p => p.state !== 'running').map(p => `${sanitize(p.host)}:${p.state}`)
  return [...running, ...others].join(' ')
}

/** `3`, or `every` (one per matching host). */
function replicasCell (d: DeploymentStatus): string {
  return d.replicas === 'every' ? 'every' : String(d.replicas)
}

const COLUMNS: ReadonlyArray<Column<DeploymentStatus>> = [
  { header: 'NAME', width: 16, minWidth: 10, priority: 100, cell: d => d.name, style: () => 'magenta-fg' },
  { header: 'VER', width: 5, align: 'right', priority: 90, cell: d => `v${d.version}` },
  { header: 'RUN/WANT', width: 9, priority: 99, cell: countsCell, style: countsStyle },
  { header: 'ON', width: 14, minWidth: 8, priority: 60, cell: d => sanitize(d.selector) },
  { header: 'REPL', width: 5, align: 'right', priority: 50, cell: replicasCell },
  { header: 'HOSTS', width: 20, priority: 98, flex: true, cell: d => hostsCell(d.placed) }
]

/**
 * Every line of the overlay for `width` columns, tags included: the column header first, then
 * per deployment its row and a line per problem. An empty or failed list says why.
 */
export function deploymentsLines (view: DeploymentsView | undefined, width: number, now: number, g: Glyphs): { header: string, lines: string[], note?: string } {
  const cols = fitColumns(COLUMNS, width)
  const header = `{bold}${esc(headerLine(cols))}{/bold}`
  // an error keeps the list seen before it, and says how old that list is
  const why = view?.error !== undefined
    ? `${sanitize(view.error)}${view.list.length > 0 ? ` (list as of ${formatAgo(view.receivedAt, now)})` : ''}`
    : undefined
  const note = why !== undefined ? `{red-fg}${esc(fit(why, width, 'left', g.ellipsis))}{/red-fg}` : undefined
  if (view === undefined) return { header, lines: [esc(fit('asking the node…', width))] }
  if (view.list.length === 0) {
    return { header, lines: view.error !== undefined ? [] : [esc(fit('no deployments: procmesh deploy NAME --on SELECTOR --replicas N -- CMD', width, 'left', g.ellipsis))], note }
  }
  const lines: string[] = []
  for (const d of view.list) {
    lines.push(rowLine(cols, d, g))
    for (const p of d.problems) lines.push(`{red-fg}${esc(fit(`  ! ${sanitize(p)}`, width, 'left', g.ellipsis))}{/red-fg}`)
  }
  return { header, lines, note }
}
