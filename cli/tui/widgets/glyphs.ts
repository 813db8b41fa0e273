/**
 * The glyphs the widgets draw with: Unicode where the terminal speaks it, ASCII otherwise.
 */
import type { PeerStatus } from '../../../protocols/types.js'

export interface Glyphs {
  status: Readonly<Record<PeerStatus, string>>
  /** sparkline levels, lowest first; index 0 is "no data" */
  spark: readonly string[]
  barFull: string
  /** partial cells of a bar, by eighths (index 0 unused) */
  barPartial: readonly string[]
  ellipsis: string
  /** turn protocols/processes.ts's box-drawing prefix into what the terminal can show */
  tree: (prefix: string) => string
  up: string
  down: string
  /** before a managed process's name in the COMMAND column */
  managed: string
  /** a host with a warning or critical alert, in the hosts pane */
  alert: string
}

export const UNICODE_GLYPHS: Glyphs = {
  status: { online: '●', stale: '◐', offline: '○' },
  spark: [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'],
  barFull: '█',
  barPartial: ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'],
  ellipsis: '…',
  tree: p => p,
  up: '↑',
  down: '↓',
  managed: '◆',
  alert: '▲'
}

export const ASCII_GLYPHS: Glyphs = {
  status: { online: '*', stale: '~', offline: 'x' },
  spark: [' ', '_', '.', '-', ':', '=', '+', '*', '#'],
  barFull: '#',
  barPartial: ['', '', '', '', '', '', '', ''],
  ellipsis: '~',
  tree: p => p.replace(/│/g, '|').replace(/├─/g, '|-').replace(/└─/g, '`-'),
  up: '^',
  down: 'v',
  managed: '@',
  alert: '!'
}
