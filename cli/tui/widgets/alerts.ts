/**
 * Glances-like colours of the figures a node marks (pure). Each node judges itself with its
 * own limits and sends its `alerts` (hosts) and `alert` (processes); the TUI only draws them
 * and never compares a figure with a limit itself, so every viewer shows the same marks.
 */
import type { AlertLevel, HostAlert, PeerEntry } from '../../../protocols/types.js'
import { ALERT_LEVELS } from '../../../protocols/thresholds.js'

/**
 * The colour of each level: careful cyan, warning magenta, critical bold red (Glances: blue,
 * magenta, red; blue is hard to read on a dark terminal, so cyan). A figure below careful
 * keeps its plain colour.
 */
export const ALERT_STYLE: Readonly<Record<AlertLevel, string>> = {
  careful: 'cyan-fg',
  warning: 'magenta-fg',
  critical: 'red-fg bold'
}

/** A host figure with no alert, when the host reports alerts at all (Glances' OK). */
const OK_STYLE = 'green-fg'

/** The level the host's node gave `metric` (and `mount`, for a filesystem), if any. */
export function hostLevel (host: PeerEntry, metric: HostAlert['metric'], mount?: string): AlertLevel | undefined {
  const found = (host.host.alerts ?? []).filter(a => a.metric === metric && (mount === undefined || a.mount === mount))
  return worst(found.map(a => a.level))
}

/**
 * The style of a host figure: its level's colour; green when the node reports alerts and this
 * figure has none; plain when the node reports no alerts (an older node: nothing is judged).
 */
export function hostFigureStyle (host: PeerEntry, metric: HostAlert['metric'], mount?: string): string | undefined {
  const level = hostLevel(host, metric, mount)
  if (level !== undefined) return ALERT_STYLE[level]
  return host.host.alerts !== undefined ? OK_STYLE : undefined
}

/** The host's worst warning or critical alert: what the hosts pane marks (careful ones only colour a figure). */
export function hostMarkLevel (host: PeerEntry): AlertLevel | undefined {
  const level = worst((host.host.alerts ?? []).map(a => a.level))
  return level === 'warning' || level === 'critical' ? level : undefined
}

/** The style of a process's CPU% and RSS cells: its level's colour, else none. */
export function processStyle (level: AlertLevel | undefined): string | undefined {
  return level !== undefined ? ALERT_STYLE[level] : undefined
}

function worst (levels: readonly AlertLevel[]): AlertLevel | undefined {
  let best: AlertLevel | undefined
  for (const l of levels) if (best === undefined || ALERT_LEVELS.indexOf(l) > ALERT_LEVELS.indexOf(best)) best = l
  return best
}
