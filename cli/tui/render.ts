/**
 * Drawing: put the state on the blessed widgets. These functions only place widgets
 * and set their content; they change no state and call nothing but blessed.
 */
import type { Widgets } from 'blessed'
import { MIN_COLS, MIN_ROWS, type Rect } from './layout.js'
import { parentChain } from './rows.js'
import type { State } from './model.js'
import { layoutOf, selectRows } from './selectors.js'
import { detailsLines, detailsTitle } from './widgets/details.js'
import { dialogFor } from './widgets/dialogs.js'
import { footerText, statusText } from './widgets/footer.js'
import type { Glyphs } from './widgets/glyphs.js'
import { headerText } from './widgets/header.js'
import { hostLines, isReachableOnline } from './widgets/hosts.js'
import { procLines, procTitle } from './widgets/procs.js'

export interface TopWidgets {
  screen: Widgets.Screen
  header: Widgets.BoxElement
  hosts: Widgets.BoxElement
  procs: Widgets.BoxElement
  details: Widgets.BoxElement
  status: Widgets.BoxElement
  footer: Widgets.BoxElement
  dialog: Widgets.BoxElement
}

const FOCUS_BORDER = 'cyan'
const IDLE_BORDER = 'grey'

// content last set per widget: blessed re-parses tags on every setContent, so skip repeats
const lastContent = new WeakMap<Widgets.BoxElement, string>()
const lastLabel = new WeakMap<Widgets.BoxElement, string>()

function setContent (el: Widgets.BoxElement, text: string): void {
  if (lastContent.get(el) === text) return
  lastContent.set(el, text)
  el.setContent(text)
}

function setLabel (el: Widgets.BoxElement, text: string): void {
  if (lastLabel.get(el) === text) return
  lastLabel.set(el, text)
  el.setLabel(text)
}

function place (el: Widgets.BoxElement, r: Rect): void {
  if (el.top !== r.top) el.top = r.top
  if (el.left !== r.left) el.left = r.left
  if (el.width !== r.width) el.width = r.width
  if (el.height !== r.height) el.height = r.height
}

function setBorder (el: Widgets.BoxElement, focused: boolean): void {
  const border = el.style.border as { fg?: string } | undefined
  if (border !== undefined) border.fg = focused ? FOCUS_BORDER : IDLE_BORDER
}

/** Draw the whole state. The caller calls screen.render() after (throttled). */
export function render (w: TopWidgets, s: State, g: Glyphs): void {
  const lay = layoutOf(s)
  const { cols, rows } = s.size
  if (!lay.fits) {
    for (const el of [w.hosts, w.procs, w.details, w.status, w.footer, w.dialog]) el.hide()
    place(w.header, { top: 0, left: 0, width: cols, height: rows })
    setContent(w.header, `terminal too small\n(${cols}x${rows}; top needs ${MIN_COLS}x${MIN_ROWS})\nq quits`)
    return
  }
  place(w.header, lay.header)
  setContent(w.header, headerText(s, cols, g))

  w.hosts.show()
  place(w.hosts, lay.hosts)
  const online = s.hosts.filter(isReachableOnline).length
  // while the node is away the figures are the last ones seen: say so where they are
  setLabel(w.hosts, s.connection === 'up' ? ` Hosts (${online}/${s.hosts.length} online) ` : ` Hosts: last known, the node is unreachable `)
  setBorder(w.hosts, s.focus === 'hosts')
  setContent(w.hosts, hostLines(s, cols - 2, lay.hostRows, g, s.focus === 'hosts', lay.hostInfo).join('\n'))

  const procRows = selectRows(s)
  w.procs.show()
  place(w.procs, lay.procs)
  setLabel(w.procs, procTitle(s, procRows.length, g))
  setBorder(w.procs, s.focus === 'procs')
  setContent(w.procs, procLines(s, procRows, cols - 2, lay.procRows, g, s.focus === 'procs').join('\n'))

  if (s.details !== undefined && lay.details !== undefined) {
    const d = s.details
    w.details.show()
    place(w.details, lay.details)
    setLabel(w.details, detailsTitle(d))
    setBorder(w.details, s.focus === 'details')
    const host = s.procs[d.target.peerId]
    const parents = host !== undefined ? parentChain(host.processes, d.target.pid) : []
    setContent(w.details, detailsLines(d, parents, s.now, cols - 2, lay.detailRows, g).join('\n'))
  } else {
    w.details.hide()
  }

  w.status.show()
  place(w.status, lay.status)
  setContent(w.status, statusText(s, cols))
  w.footer.show()
  place(w.footer, lay.footer)
  setContent(w.footer, footerText(s, cols))

  const dialog = s.modal !== undefined ? dialogFor(s.modal, cols, rows, { deployments: s.deployments, now: s.now, g }) : undefined
  if (dialog === undefined) {
    w.dialog.hide()
  } else {
    const width = Math.min(cols, dialog.width)
    const height = Math.min(rows, dialog.height)
    place(w.dialog, { top: Math.max(0, Math.floor((rows - height) / 2)), left: Math.max(0, Math.floor((cols - width) / 2)), width, height })
    setLabel(w.dialog, dialog.title)
    setContent(w.dialog, dialog.lines.join('\n'))
    w.dialog.show()
    w.dialog.setFront()
  }
}
