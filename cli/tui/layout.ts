/**
 * Where each pane goes for a terminal size. Pure: the reducer uses it for paging and
 * scrolling, render uses it to place the widgets, so both always agree.
 */

export interface Rect { top: number, left: number, width: number, height: number }

export interface Layout {
  header: Rect
  hosts: Rect
  procs: Rect
  /** present while the details pane is open */
  details?: Rect
  status: Rect
  footer: Rect
  /** list lines inside a pane: its height less the two border lines and the column header */
  hostRows: number
  procRows: number
  /** text lines inside the details pane (border excluded) */
  detailRows: number
  /** the hosts pane ends with a line of the selected host's further figures (tall terminals only) */
  hostInfo: boolean
  /** false when the terminal is too small to draw the panes; render then only says so */
  fits: boolean
}

/** Below this the panes cannot show a single row; render asks for a bigger terminal. */
export const MIN_COLS = 40
export const MIN_ROWS = 12
/** The hosts pane never takes more than this share of the screen: processes are the main view. */
const HOSTS_MAX_SHARE = 0.4
/** The details pane takes this share of what is below the hosts pane. */
const DETAILS_SHARE = 0.45
/** Border lines (2) plus the column header line. */
const LIST_CHROME = 3
const HEADER_LINES = 1
/** the status line and the key footer */
const BOTTOM_LINES = 2
/**
 * The selected host's line of further figures (cores, disks, rates) costs a line of the
 * processes pane: below this height it is left out, so 80x24 keeps its process rows.
 */
export const HOST_INFO_MIN_ROWS = 30

export function computeLayout (cols: number, rows: number, hostCount: number, detailsOpen: boolean): Layout {
  const fits = cols >= MIN_COLS && rows >= MIN_ROWS
  const width = Math.max(1, cols)
  const body = Math.max(0, rows - HEADER_LINES - BOTTOM_LINES)
  const hostInfo = rows >= HOST_INFO_MIN_ROWS && hostCount > 0
  const chrome = LIST_CHROME + (hostInfo ? 1 : 0)
  const hostsMax = Math.max(chrome + 1, Math.floor(body * HOSTS_MAX_SHARE))
  const hostsHeight = Math.min(hostsMax, Math.max(chrome + 1, hostCount + chrome))
  const below = Math.max(0, body - hostsHeight)
  const detailsHeight = detailsOpen ? Math.max(3, Math.floor(below * DETAILS_SHARE)) : 0
  const procsHeight = Math.max(LIST_CHROME + 1, below - detailsHeight)
  const hosts: Rect = { top: HEADER_LINES, left: 0, width, height: hostsHeight }
  const procs: Rect = { top: HEADER_LINES + hostsHeight, left: 0, width, height: procsHeight }
  const details: Rect | undefined = detailsOpen ? { top: procs.top + procsHeight, left: 0, width, height: detailsHeight } : undefined
  return {
    header: { top: 0, left: 0, width, height: HEADER_LINES },
    hosts,
    procs,
    details,
    status: { top: Math.max(0, rows - 2), left: 0, width, height: 1 },
    footer: { top: Math.max(0, rows - 1), left: 0, width, height: 1 },
    hostRows: Math.max(1, hostsHeight - chrome),
    procRows: Math.max(1, procsHeight - LIST_CHROME),
    detailRows: Math.max(1, detailsHeight - 2),
    hostInfo,
    fits
  }
}

/** How the help overlay is laid out for a terminal size: one or two columns, and how far it scrolls. */
export interface HelpLayout {
  /** outer width of the overlay */
  width: number
  /** width of a column's text */
  colWidth: number
  twoColumns: boolean
  /** index of the first section in the right column (two columns only) */
  rightFrom: number
  /** lines of content, and how many show at once */
  lines: number
  visible: number
  maxScroll: number
}

/** The help is at most this wide in one column: longer lines are harder to read. */
const HELP_ONE_COLUMN_MAX = 96
/** Two columns only when each is at least this wide; narrower ones would cut the descriptions. */
const HELP_MIN_COLUMN = 56

/** `blocks`: the height of each help section (keymap.ts helpBlocks), so the layout needs no keymap. */
export function helpLayout (cols: number, rows: number, blocks: readonly number[]): HelpLayout {
  const total = blocks.reduce((a, b) => a + b, 0)
  const maxW = Math.max(20, cols - 4)
  const visible = Math.max(3, rows - 4)
  const oneW = Math.min(maxW, HELP_ONE_COLUMN_MAX)
  const one: HelpLayout = { width: oneW, colWidth: oneW - 2, twoColumns: false, rightFrom: blocks.length, lines: total, visible, maxScroll: Math.max(0, total - visible) }
  if (total <= visible) return one
  const colWidth = Math.floor((maxW - 2 - 3) / 2)
  if (colWidth < HELP_MIN_COLUMN) return one
  // whole sections go left until about half the lines are there
  let left = 0
  let rightFrom = 0
  while (rightFrom < blocks.length && (left === 0 || left + blocks[rightFrom] <= Math.ceil(total / 2))) left += blocks[rightFrom++]
  const lines = Math.max(left, total - left)
  return { width: colWidth * 2 + 3 + 2, colWidth, twoColumns: true, rightFrom, lines, visible, maxScroll: Math.max(0, lines - visible) }
}

/**
 * Lines of the deployments overlay's list that show at once: the screen less its border (2),
 * the column header, a line of room above and below (the status line stays readable), and
 * the line saying why the last poll failed when there is one.
 */
export function deploymentsVisible (rows: number, withNote: boolean): number {
  return Math.max(3, rows - 5 - (withNote ? 1 : 0))
}
