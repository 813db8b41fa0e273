/**
 * The dashboard (bundled into /app.js by build/page.mjs). Standard DOM only, no
 * framework, no inline handlers (the page's CSP forbids them). Everything from the
 * mesh is untrusted text: it goes into the page with textContent, never as HTML.
 *
 * Data flow: /api/events keeps the host list live; the selected host's processes and
 * a mesh-wide search are polled while shown; render functions only draw from state.
 * The process rules (filter, sort, tree), formatting, argv splitting and the signal
 * list are the CLI's and the node's own modules. The host's history chart is
 * history.ts, its managed processes managed.ts; notices of managed processes that
 * exit or crash-loop arrive on the event stream.
 */
import { buildTree, columnDescends, compareColumn, filterProcesses, flattenTree, isColumnKey, type ColumnKey } from '../../../protocols/processes.js'
import { SIGNALS } from '../../../protocols/signals.js'
import type { ProcessInfo } from '../../../protocols/types.js'
import { formatAgo, formatBytes, formatPercent, formatStart } from '../../format.js'
import { splitArgv } from '../../tui/argv.js'
import type { ErrorJson, HistoryEntryJson, HostJson, InfoJson, MeshEvent, PsEntryJson } from '../api-types.js'
import {
  alertLevel, alertText, ancestorKeys, columnsToHide, compareHosts, fullestDisk, findNode, foldedPids, hostStatusClass, hostStatusText, managedNotice, memPercent, parentKeys, parseEnvLines, processKey, sparkPoints,
  worstAlert, type SseMessage, type TableColumn
} from '../page-lib.js'
import { byId, closest, h, svg } from './dom.js'
import { HistoryPanel } from './history.js'
import { DeploymentsView } from './deployments.js'
import { LogsPanel } from './logs.js'
import { ManagedView } from './managed.js'
import { Api, ApiError } from './net.js'
import { showNotice } from './notices.js'

const PROCS_REFRESH_MS = 3000
const SEARCH_REFRESH_MS = 5000
const SEARCH_DEBOUNCE_MS = 300
const HISTORY_REFRESH_MS = 60_000
const SPARK_WINDOW_MS = 15 * 60 * 1000
const SPARK_MAX_POINTS = 120
const EVENTS_BACKOFF_MIN_MS = 1000
const EVENTS_BACKOFF_MAX_MS = 15_000
const TOAST_MS = 6000
/**
 * The process table's fixed columns and their widths (px, room for their header and
 * usual values); the command column takes the rest, at least PROC_CMD_MIN_PX, and
 * columns are dropped in PROC_DROP_ORDER (the least useful first) when the table is
 * too narrow, so State and Started do not hide behind a scrollbar.
 */
const PROC_COLUMNS: readonly TableColumn[] = [
  { key: 'pid', width: 72 }, { key: 'user', width: 96 }, { key: 'cpu', width: 72 }, { key: 'mem', width: 84 },
  { key: 'scpu', width: 80 }, { key: 'smem', width: 88 }, { key: 'state', width: 64 }, { key: 'start', width: 96 }
]
const PROC_DROP_ORDER = ['smem', 'scpu', 'user', 'start', 'state', 'pid']
const PROC_CMD_MIN_PX = 180

type ConnState = 'connecting' | 'live' | 'reconnecting' | 'node-down' | 'auth'
type PsOk = Extract<PsEntryJson, { processes: ProcessInfo[] }>
type ToastKind = 'ok' | 'warn' | 'error'
interface SparkPoint { at: number, cpu: number, mem: number }
interface SearchRow { process: ProcessInfo, peerId: string, hostName: string }

const $ = {
  conn: byId('conn', HTMLElement),
  banner: byId('banner', HTMLDivElement),
  search: byId('search', HTMLInputElement),
  startOpen: byId('start-open', HTMLButtonElement),
  hostList: byId('host-list', HTMLUListElement),
  hostCount: byId('host-count', HTMLSpanElement),
  hostsEmpty: byId('hosts-empty', HTMLParagraphElement),
  viewHost: byId('view-host', HTMLDivElement),
  procsTitle: byId('procs-title', HTMLHeadingElement),
  procsMeta: byId('procs-meta', HTMLSpanElement),
  filter: byId('filter', HTMLInputElement),
  expandAll: byId('expand-all', HTMLButtonElement),
  collapseAll: byId('collapse-all', HTMLButtonElement),
  managedOnly: byId('managed-only', HTMLInputElement),
  procWrap: byId('proc-wrap', HTMLDivElement),
  procsStatus: byId('procs-status', HTMLParagraphElement),
  procTable: byId('proc-table', HTMLTableElement),
  procBody: byId('proc-body', HTMLTableSectionElement),
  viewSearch: byId('view-search', HTMLDivElement),
  searchTitle: byId('search-title', HTMLHeadingElement),
  searchClose: byId('search-close', HTMLButtonElement),
  searchStatus: byId('search-status', HTMLParagraphElement),
  searchTable: byId('search-table', HTMLTableElement),
  searchBody: byId('search-body', HTMLTableSectionElement),
  details: byId('details', HTMLElement),
  detailsClose: byId('details-close', HTMLButtonElement),
  detailsBody: byId('details-body', HTMLDivElement),
  detailsStop: byId('details-stop', HTMLButtonElement),
  detailsLogs: byId('details-logs', HTMLButtonElement),
  stopDialog: byId('stop-dialog', HTMLDialogElement),
  stopForm: byId('stop-form', HTMLFormElement),
  stopText: byId('stop-text', HTMLParagraphElement),
  stopSignal: byId('stop-signal', HTMLSelectElement),
  stopTreeRow: byId('stop-tree-row', HTMLLabelElement),
  stopTree: byId('stop-tree', HTMLInputElement),
  stopTreeLabel: byId('stop-tree-label', HTMLSpanElement),
  stopError: byId('stop-error', HTMLParagraphElement),
  stopCancel: byId('stop-cancel', HTMLButtonElement),
  stopConfirm: byId('stop-confirm', HTMLButtonElement),
  startDialog: byId('start-dialog', HTMLDialogElement),
  startForm: byId('start-form', HTMLFormElement),
  startHost: byId('start-host', HTMLSelectElement),
  startCmd: byId('start-cmd', HTMLInputElement),
  startCwd: byId('start-cwd', HTMLInputElement),
  startEnv: byId('start-env', HTMLTextAreaElement),
  startError: byId('start-error', HTMLParagraphElement),
  startCancel: byId('start-cancel', HTMLButtonElement),
  startSubmit: byId('start-submit', HTMLButtonElement),
  tokenDialog: byId('token-dialog', HTMLDialogElement),
  tokenForm: byId('token-form', HTMLFormElement),
  tokenReason: byId('token-reason', HTMLParagraphElement),
  tokenInput: byId('token-input', HTMLInputElement),
  toast: byId('toast', HTMLDivElement)
}

/** Everything the page shows; render functions draw from it. */
interface PageState {
  info: InfoJson
  hosts: Map<string, HostJson>
  history: Map<string, SparkPoint[]>
  conn: { state: ConnState, message: string }
  selected: string | null
  procs: PsOk | null
  procsError: ErrorJson | null
  /** folded processes by processKey, so a fold survives refreshes and not pid reuse */
  folded: Set<string>
  sort: { key: ColumnKey, reverse: boolean }
  filter: string
  search: string
  searchResults: PsEntryJson[] | null
  searchError: string | null
  detail: { peerId: string, key: string } | null
  stopTarget: { peerId: string, hostName: string, pid: number, startTime: number, name: string } | null
  pendingReveal: { peerId: string, pid: number } | null
}

const S: PageState = {
  info: { version: '', allowControl: false, tokenRequired: false },
  hosts: new Map(),
  history: new Map(),
  conn: { state: 'connecting', message: '' },
  selected: null,
  procs: null,
  procsError: null,
  folded: new Set(),
  sort: { key: 'pid', reverse: false },
  filter: '',
  search: '',
  searchResults: null,
  searchError: null,
  detail: null,
  stopTarget: null,
  pendingReveal: null
}

const api = new Api(reason => { askToken(reason) })
const historyPanel = new HistoryPanel(api)
const logsPanel = new LogsPanel(api)
const deployments = new DeploymentsView(api)
const managed = new ManagedView(api, {
  allowControl: () => S.info.allowControl,
  hostName: peerId => S.hosts.get(peerId)?.name ?? peerId,
  status: (text, kind) => { if (text === null) $.procsStatus.hidden = true; else setStatus($.procsStatus, text, kind) },
  toast: (text, kind) => { toast(text, kind) },
  openLogs: (peerId, ref, label) => { logsPanel.open(peerId, S.hosts.get(peerId)?.name ?? peerId, ref, label) }
})
let eventsAbort: AbortController | null = null
/** set once the event stream's snapshot has arrived: a first GET answering later is older and must not replace it */
let snapshotSeen = false
let eventsRetry: ReturnType<typeof setTimeout> | undefined
let eventsBackoff = EVENTS_BACKOFF_MIN_MS
let procsTimer: ReturnType<typeof setTimeout> | undefined
let searchTimer: ReturnType<typeof setTimeout> | undefined
let searchDebounce: ReturnType<typeof setTimeout> | undefined
let historyTimer: ReturnType<typeof setTimeout> | undefined
let toastTimer: ReturnType<typeof setTimeout> | undefined

function errorText (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

// ---- live host list: a first GET, then the event stream ----

/**
 * The first paint: the host list from `GET /api/hosts` at once, rather than an empty
 * shell until the event stream's snapshot arrives (which replaces it, and which a
 * late answer never overrides).
 */
function loadHosts (): void {
  api.call<HostJson[]>('GET', '/api/hosts').then(hosts => {
    if (snapshotSeen) return
    S.hosts = new Map()
    for (const p of hosts) { S.hosts.set(p.peerId, p); notePoint(p) }
    if (S.selected === null || !S.hosts.has(S.selected)) selectInitialHost()
    renderHosts()
    renderProcsHead()
  }, () => { /* the event stream tells the node's state */ }).catch((err: unknown) => { console.error(err) })
}


function connectEvents (): void {
  eventsAbort?.abort()
  clearTimeout(eventsRetry)
  const ctrl = new AbortController()
  eventsAbort = ctrl
  api.events(ctrl.signal, () => {
    eventsBackoff = EVENTS_BACKOFF_MIN_MS
    if (S.conn.state !== 'node-down') setConn('live', '')
  }, onEvent).catch((err: unknown) => {
    if (ctrl.signal.aborted) return
    if (err instanceof ApiError && err.status === 401) { setConn('auth', 'API token needed'); return }
    setConn('reconnecting', 'reconnecting to procmesh web…')
    eventsRetry = setTimeout(connectEvents, eventsBackoff)
    eventsBackoff = Math.min(eventsBackoff * 2, EVENTS_BACKOFF_MAX_MS)
  })
}

function onEvent (msg: SseMessage): void {
  let ev: MeshEvent
  try {
    ev = JSON.parse(msg.data) as MeshEvent
  } catch {
    return
  }
  if (ev.type === 'snapshot') {
    snapshotSeen = true
    S.hosts = new Map()
    for (const p of ev.hosts) { S.hosts.set(p.peerId, p); notePoint(p) }
    setConn('live', '')
    if (S.selected === null || !S.hosts.has(S.selected)) selectInitialHost()
  } else if (ev.type === 'peer-joined' || ev.type === 'peer-status' || ev.type === 'summary') {
    S.hosts.set(ev.peer.peerId, ev.peer)
    notePoint(ev.peer)
    if (S.selected === null) selectInitialHost()
  } else if (ev.type === 'peer-left') {
    S.hosts.delete(ev.peerId)
  } else if (ev.type === 'node-error') {
    setConn('node-down', `${ev.error.code}: ${ev.error.message}`)
  } else if (ev.type === 'managed') {
    const notice = managedNotice(ev)
    showNotice(notice.text, notice.kind)
    if (ev.peerId === S.selected) { managed.refresh(); refreshProcs() }
    return
  }
  renderHosts()
  if (ev.type === 'snapshot' || ev.type === 'peer-status') renderProcsHead()
}

const CONN_TEXT: Record<ConnState, string> = {
  live: 'live',
  'node-down': 'node unavailable',
  auth: 'token needed',
  connecting: 'connecting…',
  reconnecting: 'reconnecting…'
}

function setConn (state: ConnState, message: string): void {
  S.conn = { state, message }
  $.conn.dataset.state = state
  $.conn.textContent = CONN_TEXT[state]
  $.conn.title = message
  $.banner.hidden = !(state === 'node-down' || state === 'reconnecting')
  $.banner.textContent = state === 'node-down' ? `The local node does not answer: ${message}` : message
}

// ---- sparklines ----

function notePoint (p: HostJson): void {
  if (p.host === undefined) return
  const list = S.history.get(p.peerId) ?? []
  const at = p.lastSeen
  if (list.length > 0 && list[list.length - 1].at >= at) return
  list.push({ at, cpu: p.host.cpuPercent, mem: memPercent(p.host) })
  trimHistory(list)
  S.history.set(p.peerId, list)
}

function trimHistory (list: SparkPoint[]): void {
  const cutoff = Date.now() - SPARK_WINDOW_MS
  while (list.length > 0 && (list[0].at < cutoff || list.length > SPARK_MAX_POINTS * 2)) list.shift()
}

function loadHistory (): void {
  clearTimeout(historyTimer)
  api.call<HistoryEntryJson[]>('GET', `/api/history?host=all&points=${SPARK_MAX_POINTS}&since=${Date.now() - SPARK_WINDOW_MS}`)
    .then(entries => {
      for (const e of entries) {
        if ('error' in e) continue
        const fetched = e.points.map(pt => ({ at: pt.at, cpu: pt.cpuPercent, mem: memPercent({ memUsed: pt.memUsed, memTotal: e.memTotal }) }))
        const last = fetched.length > 0 ? fetched[fetched.length - 1].at : -Infinity
        const live = (S.history.get(e.peerId) ?? []).filter(pt => pt.at > last)
        const list = fetched.concat(live)
        trimHistory(list)
        S.history.set(e.peerId, list)
      }
      renderHosts()
    }, () => { /* sparklines fill from live summaries meanwhile */ })
    .finally(() => { historyTimer = setTimeout(loadHistory, HISTORY_REFRESH_MS) })
    .catch(() => {})
}

function sparkline (peerId: string): SVGSVGElement {
  const last = (S.history.get(peerId) ?? []).slice(-SPARK_MAX_POINTS)
  const line = (field: 'cpu' | 'mem', cls: string): SVGPolylineElement =>
    svg('polyline', { class: cls, points: sparkPoints(last.map(pt => pt[field]), 100, 24, 100) })
  return svg('svg', { viewBox: '0 0 100 24', preserveAspectRatio: 'none', class: 'spark', 'aria-hidden': 'true' }, [line('mem', 'spark-mem'), line('cpu', 'spark-cpu')])
}

// ---- hosts ----

function sortedHosts (): HostJson[] {
  return [...S.hosts.values()].sort(compareHosts)
}

function selectInitialHost (): void {
  const wanted = hashHost()
  if (wanted !== null && S.hosts.has(wanted)) { selectHost(wanted); return }
  const hosts = sortedHosts()
  if (hosts.length > 0) selectHost(hosts[0].peerId)
}

function hashHost (): string | null {
  const m = /^#host=(.+)$/.exec(window.location.hash)
  if (m === null) return null
  try {
    return decodeURIComponent(m[1])
  } catch {
    return null
  }
}

function bar (percent: number, cls: string): HTMLSpanElement {
  const fill = h('span', { class: `bar-fill ${cls}` })
  fill.style.width = `${Math.max(0, Math.min(100, percent)).toFixed(1)}%`
  return h('span', { class: 'bar', attrs: { 'aria-hidden': 'true' } }, fill)
}

function renderHosts (): void {
  const list = $.hostList
  const now = Date.now()
  const hosts = sortedHosts()
  $.hostCount.textContent = hosts.length > 0 ? `(${hosts.length})` : ''
  const existing = new Map<string, HTMLLIElement>()
  for (const li of list.querySelectorAll<HTMLLIElement>(':scope > li')) existing.set(li.dataset.peer ?? '', li)
  hosts.forEach((p, index) => {
    let li = existing.get(p.peerId)
    existing.delete(p.peerId)
    let btn: HTMLButtonElement
    if (li === undefined) {
      btn = h('button', { class: 'host', attrs: { type: 'button' } })
      btn.addEventListener('click', () => { selectHost(p.peerId) })
      li = h('li', { class: 'host-item', dataset: { peer: p.peerId } }, btn)
    } else {
      const first = li.firstElementChild
      if (!(first instanceof HTMLButtonElement)) return
      btn = first
    }
    if (list.children[index] !== li) list.insertBefore(li, list.children[index] ?? null)
    // a host whose summaries arrive but which this node cannot reach is not shown as plainly online
    const shown = hostStatusText(p)
    btn.dataset.status = hostStatusClass(p)
    btn.setAttribute('aria-pressed', S.selected === p.peerId ? 'true' : 'false')
    btn.setAttribute('aria-label', `${p.name}, ${shown}`)
    const info = p.host
    const alerts = info?.alerts
    const worst = worstAlert(alerts)
    if (worst !== undefined) btn.dataset.alert = worst
    else delete btn.dataset.alert
    const fig = (label: string, percent: number, cls: string, value: string, level: string | undefined): HTMLSpanElement =>
      h('span', { class: 'fig', dataset: { fig: label.toLowerCase() } }, [
        h('span', { class: 'fig-label', text: label }), bar(percent, cls),
        h('span', { class: `fig-value${level !== undefined ? ` alert-${level}` : ''}`, text: value })
      ])
    const disk = fullestDisk(info?.disks)
    btn.replaceChildren(...[
      h('span', { class: 'host-line' }, [
        h('span', { class: 'dot', attrs: { 'aria-hidden': 'true' } }),
        h('span', { class: 'host-name', text: p.name }),
        p.self ? h('span', { class: 'badge', text: 'this node' }) : null,
        h('span', { class: 'host-status', text: shown })
      ]),
      h('span', { class: 'host-figures' }, [
        fig('CPU', info?.cpuPercent ?? 0, 'cpu', info !== undefined ? formatPercent(info.cpuPercent) : '-', alertLevel(alerts, 'cpu')),
        info?.cores !== undefined && info.cores.length > 1
          ? h('span', { class: 'cores', title: info.cores.map((c, i) => `cpu${i} ${c}%`).join(', ') }, info.cores.map(c => bar(c, 'cpu')))
          : null,
        fig('MEM', memPercent(info), 'mem', info !== undefined ? `${formatBytes(info.memUsed)} / ${formatBytes(info.memTotal)}` : '-', alertLevel(alerts, 'mem')),
        info?.swapTotal !== undefined && info.swapTotal > 0 && info.swapUsed !== undefined
          ? fig('SWAP', (info.swapUsed / info.swapTotal) * 100, 'mem', `${formatBytes(info.swapUsed)} / ${formatBytes(info.swapTotal)}`, alertLevel(alerts, 'swap'))
          : null,
        disk !== undefined
          ? fig('DISK', disk.percent, 'disk', `${disk.disk.mount} ${formatPercent(disk.percent)}`, alertLevel(alerts, 'disk', disk.disk.mount))
          : null
      ]),
      sparkline(p.peerId),
      h('span', { class: 'host-meta muted', text: `${p.procCount} processes · load ${info !== undefined ? info.load[0].toFixed(2) : '-'} · ${p.self ? 'now' : formatAgo(p.lastSeen, now)}` }),
      alerts !== undefined && alerts.length > 0
        ? h('span', { class: 'host-alerts' }, alerts.map(a => h('span', { class: `alert-badge alert-${a.level}`, text: alertText(a) })))
        : null
    ].filter(el => el !== null))
  })
  for (const li of existing.values()) li.remove()
  $.hostsEmpty.hidden = hosts.length > 0
}

function selectHost (peerId: string): void {
  if (S.selected !== peerId) {
    S.selected = peerId
    S.procs = null
    S.procsError = null
    S.folded = new Set()
    S.filter = ''
    $.filter.value = ''
    logsPanel.close()
    try {
      window.history.replaceState(null, '', `#host=${encodeURIComponent(peerId)}`)
    } catch { /* file: or sandboxed */ }
  }
  clearSearch()
  renderHosts()
  renderProcs()
  refreshProcs()
  historyPanel.show(peerId)
  managed.show(peerId, $.managedOnly.checked)
}

/** "Managed only": the host's managed processes as `procmesh ls` lists them, instead of its process tree. */
function toggleManaged (): void {
  const on = $.managedOnly.checked
  $.procWrap.hidden = on
  $.filter.hidden = on
  $.expandAll.hidden = on
  $.collapseAll.hidden = on
  managed.show(S.selected, on)
  if (!on) renderProcs()
}

// ---- the selected host's processes ----

function refreshProcs (): void {
  clearTimeout(procsTimer)
  const peerId = S.selected
  if (peerId === null) return
  api.call<PsEntryJson[]>('GET', `/api/processes?host=${encodeURIComponent(peerId)}`)
    .then(entries => {
      if (S.selected !== peerId) return
      const entry = entries[0]
      if (entry !== undefined && 'error' in entry) { S.procsError = entry.error; return }
      S.procs = entry ?? null
      S.procsError = null
    }, (err: unknown) => {
      if (S.selected !== peerId) return
      S.procsError = { code: err instanceof ApiError ? err.code : 'ERROR', message: errorText(err) }
    })
    .then(() => {
      if (S.selected !== peerId) return
      renderProcs()
      revealPending()
      renderDetails()
      procsTimer = setTimeout(refreshProcs, PROCS_REFRESH_MS)
    })
    .catch((err: unknown) => { console.error(err) })
}

function renderProcsHead (): void {
  const host = S.selected !== null ? S.hosts.get(S.selected) : undefined
  $.procsTitle.textContent = host !== undefined ? host.name : 'Select a host'
  $.procsMeta.textContent = host === undefined
    ? ''
    : host.status + (S.procs !== null ? ` · ${S.procs.processes.length} processes · sampled ${formatAgo(S.procs.collectedAt, Date.now())}` : '')
}

function selectedDetailKey (): string | null {
  return S.detail !== null && S.detail.peerId === S.selected ? S.detail.key : null
}

function setStatus (el: HTMLElement, text: string, kind: '' | 'error' | 'warn' = ''): void {
  el.hidden = false
  el.className = kind === '' ? 'status' : `status ${kind}`
  el.textContent = text
}

/** The process table's state under the toolbar (while the managed view is shown, it tells its own there). */
function procsStatus (text: string | null, kind: '' | 'error' = ''): void {
  if (managed.shown) return
  if (text === null) $.procsStatus.hidden = true
  else setStatus($.procsStatus, text, kind)
}

function shownProcesses (procs: PsOk): ProcessInfo[] {
  return filterProcesses(procs.processes, S.filter.trim())
}

function renderProcs (): void {
  renderProcsHead()
  const tbody = $.procBody
  renderSortHeaders($.procTable)
  if (S.procsError !== null) procsStatus(`${S.procsError.code}: ${S.procsError.message}`, 'error')
  else if (S.procs === null) procsStatus(S.selected === null ? 'No hosts yet.' : 'Loading processes…')
  else procsStatus(null)
  if (S.procs === null) { tbody.replaceChildren(); return }
  const now = Date.now()
  const shown = shownProcesses(S.procs)
  const rows = flattenTree(buildTree(shown), { folded: foldedPids(shown, S.folded), compare: compareColumn(S.sort.key, S.sort.reverse) })
  const detailKey = selectedDetailKey()
  const frag = document.createDocumentFragment()
  for (const r of rows) {
    const p = r.process
    const key = processKey(p)
    const indent = h('span', { class: 'indent' })
    indent.style.paddingLeft = `${r.depth * 16}px`
    const cmdCell = h('td', { class: 'col-cmd' }, [
      indent,
      r.hasChildren
        ? h('button', {
          class: 'twisty',
          title: r.folded ? `Expand (${r.node.subtreeCount - 1} below)` : 'Collapse',
          dataset: { toggle: key },
          text: r.folded ? '▸' : '▾',
          attrs: { type: 'button', 'aria-expanded': r.folded ? 'false' : 'true', 'aria-label': `${r.folded ? 'Expand' : 'Collapse'} ${p.name}` }
        })
        : h('span', { class: 'twisty-space', attrs: { 'aria-hidden': 'true' } }),
      h('span', { class: 'pname', text: p.name }),
      p.managedId !== undefined ? h('span', { class: 'badge', text: 'managed', title: p.managedId }) : null,
      p.cmd !== '' && p.cmd !== p.name ? h('span', { class: 'pcmd muted', text: p.cmd }) : null
    ])
    // the answering node's mark for the process (its limits), never judged here
    const alertCls = p.alert !== undefined ? ` alert-${p.alert}` : ''
    frag.appendChild(h('tr', {
      class: `row${key === detailKey ? ' selected' : ''}`,
      dataset: { key, pid: String(p.pid) },
      attrs: { tabindex: '0', 'aria-level': String(r.depth + 1), 'aria-expanded': r.hasChildren ? (r.folded ? 'false' : 'true') : null }
    }, [
      cmdCell,
      h('td', { class: 'num col-pid', text: String(p.pid) }),
      h('td', { class: 'col-user', text: p.user }),
      h('td', { class: `num col-cpu${alertCls}`, text: p.cpuPercent.toFixed(1) }),
      h('td', { class: `num col-mem${alertCls}`, text: formatBytes(p.rss) }),
      h('td', { class: 'num col-scpu', text: r.hasChildren ? r.node.subtreeCpu.toFixed(1) : '' }),
      h('td', { class: 'num col-smem', text: r.hasChildren ? formatBytes(r.node.subtreeRss) : '' }),
      h('td', { class: 'col-state', text: p.state }),
      h('td', { class: 'col-start', text: formatStart(p.startTime, now) })
    ]))
  }
  tbody.replaceChildren(frag)
  if (rows.length === 0) procsStatus(S.filter !== '' ? `No process matches "${S.filter}".` : 'No processes.')
}

/** Show the process table's columns that fit its width (see PROC_COLUMNS). */
function fitProcColumns (): void {
  const width = $.procWrap.clientWidth
  if (width === 0) return
  const hidden = columnsToHide(width, PROC_COLUMNS, PROC_DROP_ORDER, PROC_CMD_MIN_PX)
  for (const c of PROC_COLUMNS) $.procTable.classList.toggle(`hide-${c.key}`, hidden.has(c.key))
}

function renderSortHeaders (table: HTMLTableElement): void {
  for (const th of table.querySelectorAll<HTMLTableCellElement>('th[data-sort]')) {
    const key = th.dataset.sort
    if (key !== S.sort.key || !isColumnKey(key)) { th.removeAttribute('aria-sort'); continue }
    const natural = columnDescends(key) ? 'descending' : 'ascending'
    const flipped = natural === 'ascending' ? 'descending' : 'ascending'
    th.setAttribute('aria-sort', S.sort.reverse ? flipped : natural)
  }
}

function onSortClick (ev: MouseEvent): void {
  const btn = closest(ev.target, 'th[data-sort] button', HTMLButtonElement)
  const key = btn?.parentElement?.dataset.sort
  if (!isColumnKey(key)) return
  S.sort = S.sort.key === key ? { key, reverse: !S.sort.reverse } : { key, reverse: false }
  renderProcs()
  renderSearch()
}

function onProcClick (ev: MouseEvent): void {
  const toggle = closest(ev.target, 'button[data-toggle]', HTMLButtonElement)
  if (toggle !== null) {
    const key = toggle.dataset.toggle ?? ''
    if (S.folded.has(key)) S.folded.delete(key)
    else S.folded.add(key)
    renderProcs()
    return
  }
  const tr = closest(ev.target, 'tr.row', HTMLTableRowElement)
  if (tr !== null && S.selected !== null) showDetail(S.selected, tr.dataset.key ?? '')
}

function onProcKey (ev: KeyboardEvent): void {
  const tr = closest(ev.target, 'tr.row', HTMLTableRowElement)
  if (tr === null || ev.target !== tr) return
  const key = tr.dataset.key ?? ''
  if (ev.key === 'Enter' && S.selected !== null) { showDetail(S.selected, key); ev.preventDefault() }
  const toggle = tr.querySelector<HTMLButtonElement>('button[data-toggle]')
  if (toggle === null) return
  const folded = S.folded.has(toggle.dataset.toggle ?? '')
  if ((ev.key === 'ArrowRight' && folded) || (ev.key === 'ArrowLeft' && !folded)) {
    toggle.click()
    document.querySelector<HTMLTableRowElement>(`tr.row[data-key="${CSS.escape(key)}"]`)?.focus()
    ev.preventDefault()
  }
}

function foldAll (fold: boolean): void {
  if (S.procs === null) return
  S.folded = fold ? new Set(parentKeys(shownProcesses(S.procs))) : new Set()
  renderProcs()
}

// ---- process details and stop ----

function findProcess (peerId: string, key: string): ProcessInfo | undefined {
  if (S.procs === null || S.procs.peerId !== peerId) return undefined
  return S.procs.processes.find(p => processKey(p) === key)
}

function showDetail (peerId: string, key: string): void {
  S.detail = { peerId, key }
  renderProcs()
  renderDetails()
  $.detailsClose.focus()
}

function closeDetail (): void {
  S.detail = null
  renderDetails()
  renderProcs()
}

function renderDetails (): void {
  const detail = S.detail
  $.details.hidden = detail === null
  document.body.classList.toggle('details-open', detail !== null)
  if (detail === null) return
  const host = S.hosts.get(detail.peerId)
  const p = findProcess(detail.peerId, detail.key)
  $.detailsStop.hidden = !S.info.allowControl
  $.detailsLogs.hidden = p?.managedId === undefined
  if (p === undefined || S.procs === null) {
    $.detailsBody.replaceChildren(h('p', { class: 'muted', text: S.procs !== null && S.procs.peerId === detail.peerId ? 'This process has ended.' : 'Loading…' }))
    $.detailsStop.disabled = true
    return
  }
  $.detailsStop.disabled = false
  const now = Date.now()
  const fields: Array<[string, string]> = [
    ['Host', host !== undefined ? host.name : detail.peerId],
    ['PID', String(p.pid)],
    ['Parent PID', String(p.ppid)],
    ['User', p.user],
    ['Name', p.name],
    ['Command', p.cmd !== '' ? p.cmd : '(none)'],
    ['State', p.state],
    ['CPU', `${p.cpuPercent.toFixed(1)}% of one core`],
    ['Memory (RSS)', formatBytes(p.rss)],
    ['Started', `${new Date(p.startTime).toLocaleString()} (${formatAgo(p.startTime, now)})`]
  ]
  if (p.managedId !== undefined) fields.push(['Managed id', p.managedId])
  fields.push(['Children', String(S.procs.processes.filter(c => c.ppid === p.pid && c.pid !== p.pid).length)])
  const dl = h('dl', { class: 'fields' })
  for (const [label, value] of fields) {
    dl.appendChild(h('dt', { text: label }))
    dl.appendChild(h('dd', { class: label === 'Command' ? 'mono wrap' : '', text: value }))
  }
  $.detailsBody.replaceChildren(dl)
}

/** The logs panel for the managed process in the details. */
function openDetailLogs (): void {
  const detail = S.detail
  const p = detail !== null ? findProcess(detail.peerId, detail.key) : undefined
  if (detail === null || p?.managedId === undefined) return
  logsPanel.open(detail.peerId, S.hosts.get(detail.peerId)?.name ?? detail.peerId, p.managedId, p.managedName ?? p.managedId)
}

function openStopDialog (): void {
  const detail = S.detail
  if (detail === null || S.procs === null) return
  const p = findProcess(detail.peerId, detail.key)
  if (p === undefined) return
  const hostName = S.hosts.get(detail.peerId)?.name ?? detail.peerId
  S.stopTarget = { peerId: detail.peerId, hostName, pid: p.pid, startTime: p.startTime, name: p.name }
  const node = findNode(S.procs.processes, p.pid)
  const below = node !== undefined ? node.subtreeCount - 1 : 0
  $.stopText.textContent = `Stop ${p.name} (pid ${p.pid}) on ${hostName}?`
  $.stopSignal.value = 'TERM'
  $.stopTree.checked = false
  $.stopTreeLabel.textContent = `Also its ${below} descendant${below === 1 ? '' : 's'}`
  $.stopTreeRow.hidden = below === 0
  $.stopError.textContent = ''
  $.stopConfirm.disabled = false
  $.stopDialog.showModal()
  $.stopCancel.focus()
}

interface SignalAnswer { peerId: string, name: string, pid: number, signal: string, result: 'signalled' | 'exited' | 'gone', signalled?: number[] }

function confirmStop (ev: SubmitEvent): void {
  ev.preventDefault()
  const t = S.stopTarget
  if (t === null) return
  const body: { signal: string, startTime: number, tree?: boolean } = { signal: $.stopSignal.value, startTime: t.startTime }
  if ($.stopTree.checked) body.tree = true
  $.stopConfirm.disabled = true
  api.call<SignalAnswer>('POST', `/api/processes/${encodeURIComponent(t.peerId)}/${t.pid}/signal`, body).then(r => {
    $.stopDialog.close()
    const more = r.signalled !== undefined && r.signalled.length > 1 ? ` (${r.signalled.length} processes)` : ''
    if (r.result === 'gone') toast(`pid ${r.pid} on ${r.name} is gone: it had already exited, nothing was signalled`, 'warn')
    else toast(`pid ${r.pid} on ${r.name}: ${r.result} (${r.signal})${more}`, 'ok')
    refreshProcs()
  }, (err: unknown) => {
    $.stopConfirm.disabled = false
    $.stopError.textContent = errorText(err)
    if (!(err instanceof ApiError && err.status === 401)) toast(`Stop refused: ${errorText(err)}`, 'error')
  }).catch((err: unknown) => { console.error(err) })
}

// ---- start ----

function openStartDialog (): void {
  $.startHost.replaceChildren(...sortedHosts().map(p =>
    h('option', { text: p.name + (p.status !== 'online' ? ` (${p.status})` : ''), attrs: { value: p.peerId } })))
  if (S.selected !== null) $.startHost.value = S.selected
  $.startError.textContent = ''
  $.startSubmit.disabled = false
  $.startDialog.showModal()
  $.startCmd.focus()
}

interface RunAnswer { peerId: string, name: string, managedId: string, pid: number, startTime: number }

function submitStart (ev: SubmitEvent): void {
  ev.preventDefault()
  let body: { host: string, argv: string[], cwd?: string, env?: Record<string, string> }
  try {
    const argv = splitArgv($.startCmd.value)
    if (argv.length === 0) throw new Error('enter a command')
    body = { host: $.startHost.value, argv }
    const cwd = $.startCwd.value.trim()
    if (cwd !== '') body.cwd = cwd
    const env = parseEnvLines($.startEnv.value)
    if (env !== undefined) body.env = env
  } catch (err: unknown) {
    $.startError.textContent = errorText(err)
    return
  }
  $.startSubmit.disabled = true
  api.call<RunAnswer>('POST', '/api/processes', body).then(r => {
    $.startDialog.close()
    toast(`started ${r.managedId} (pid ${r.pid}) on ${r.name}`, 'ok')
    if (r.peerId === S.selected) refreshProcs()
  }, (err: unknown) => {
    $.startSubmit.disabled = false
    $.startError.textContent = errorText(err)
  }).catch((err: unknown) => { console.error(err) })
}

// ---- mesh-wide search ----

function onSearchInput (): void {
  clearTimeout(searchDebounce)
  searchDebounce = setTimeout(() => {
    S.search = $.search.value.trim()
    if (S.search === '') { clearSearch(); return }
    S.searchResults = null
    S.searchError = null
    showSearchView(true)
    renderSearch()
    refreshSearch()
  }, SEARCH_DEBOUNCE_MS)
}

function clearSearch (): void {
  clearTimeout(searchTimer)
  clearTimeout(searchDebounce)
  S.search = ''
  S.searchResults = null
  $.search.value = ''
  showSearchView(false)
}

function showSearchView (on: boolean): void {
  $.viewSearch.hidden = !on
  $.viewHost.hidden = on
}

function refreshSearch (): void {
  clearTimeout(searchTimer)
  const text = S.search
  if (text === '') return
  api.call<PsEntryJson[]>('GET', `/api/processes?host=all&filter=${encodeURIComponent(text)}`)
    .then(entries => {
      if (S.search !== text) return
      S.searchResults = entries
      S.searchError = null
    }, (err: unknown) => {
      if (S.search !== text) return
      S.searchError = `${err instanceof ApiError ? err.code : 'ERROR'}: ${errorText(err)}`
    })
    .then(() => {
      if (S.search !== text) return
      renderSearch()
      searchTimer = setTimeout(refreshSearch, SEARCH_REFRESH_MS)
    })
    .catch((err: unknown) => { console.error(err) })
}

function renderSearch (): void {
  if (S.search === '') return
  renderSortHeaders($.searchTable)
  $.searchTitle.textContent = `Processes matching "${S.search}" on all hosts`
  if (S.searchError !== null) setStatus($.searchStatus, S.searchError, 'error')
  if (S.searchResults === null) {
    if (S.searchError === null) setStatus($.searchStatus, 'Searching…')
    $.searchBody.replaceChildren()
    return
  }
  const rows: SearchRow[] = []
  const failures: string[] = []
  for (const e of S.searchResults) {
    if ('error' in e) { failures.push(`${e.name}: ${e.error.code} ${e.error.message}`); continue }
    for (const p of e.processes) rows.push({ process: p, peerId: e.peerId, hostName: e.name })
  }
  const cmp = compareColumn<SearchRow>(S.sort.key, S.sort.reverse)
  rows.sort((a, b) => a.hostName !== b.hostName ? (a.hostName < b.hostName ? -1 : 1) : cmp(a, b))
  const now = Date.now()
  const frag = document.createDocumentFragment()
  for (const r of rows) {
    const p = r.process
    frag.appendChild(h('tr', { class: 'row', dataset: { peer: r.peerId, key: processKey(p), pid: String(p.pid) }, attrs: { tabindex: '0' } }, [
      h('td', { class: 'col-host', text: r.hostName }),
      h('td', { class: 'col-cmd' }, [h('span', { class: 'pname', text: p.name }), p.cmd !== '' && p.cmd !== p.name ? h('span', { class: 'pcmd muted', text: p.cmd }) : null]),
      h('td', { class: 'num col-pid', text: String(p.pid) }),
      h('td', { class: 'col-user', text: p.user }),
      h('td', { class: 'num col-cpu', text: p.cpuPercent.toFixed(1) }),
      h('td', { class: 'num col-mem', text: formatBytes(p.rss) }),
      h('td', { class: 'col-state', text: p.state }),
      h('td', { class: 'col-start', text: formatStart(p.startTime, now) })
    ]))
  }
  $.searchBody.replaceChildren(frag)
  const hostsSeen = S.searchResults.length - failures.length
  let summary = `${rows.length} match${rows.length === 1 ? '' : 'es'} on ${hostsSeen} host${hostsSeen === 1 ? '' : 's'}`
  if (failures.length > 0) summary += ` · not answered: ${failures.join('; ')}`
  if (S.searchError === null) setStatus($.searchStatus, summary, failures.length > 0 ? 'warn' : '')
}

function onSearchClick (ev: MouseEvent): void {
  const tr = closest(ev.target, 'tr.row', HTMLTableRowElement)
  if (tr !== null) openFromSearch(tr.dataset.peer ?? '', tr.dataset.key ?? '')
}

function onSearchKey (ev: KeyboardEvent): void {
  const tr = closest(ev.target, 'tr.row', HTMLTableRowElement)
  if (tr !== null && ev.key === 'Enter') { openFromSearch(tr.dataset.peer ?? '', tr.dataset.key ?? ''); ev.preventDefault() }
}

function openFromSearch (peerId: string, key: string): void {
  let found: ProcessInfo | undefined
  for (const e of S.searchResults ?? []) {
    if (e.peerId !== peerId || 'error' in e) continue
    found = e.processes.find(p => processKey(p) === key) ?? found
  }
  selectHost(peerId)
  S.detail = { peerId, key }
  // unfold the way to it once the host's list arrives
  if (found !== undefined) S.pendingReveal = { peerId, pid: found.pid }
  renderDetails()
}

function revealPending (): void {
  const r = S.pendingReveal
  if (r === null || S.procs === null || S.procs.peerId !== r.peerId) return
  for (const k of ancestorKeys(S.procs.processes, r.pid)) S.folded.delete(k)
  S.pendingReveal = null
  renderProcs()
  document.querySelector('#proc-body tr.row.selected')?.scrollIntoView({ block: 'nearest' })
}

// ---- token ----

let tokenAsked = false
function askToken (reason: string): void {
  if (tokenAsked) return
  tokenAsked = true
  eventsAbort?.abort()
  setConn('auth', 'API token needed')
  $.tokenReason.textContent = reason
  $.tokenInput.value = ''
  if (!$.tokenDialog.open) $.tokenDialog.showModal()
  $.tokenInput.focus()
}

function submitToken (ev: SubmitEvent): void {
  ev.preventDefault()
  const value = $.tokenInput.value.trim()
  if (value === '') return
  api.setToken(value)
  tokenAsked = false
  $.tokenDialog.close()
  start()
}

// ---- toast ----

function toast (text: string, kind: ToastKind): void {
  $.toast.textContent = text
  $.toast.dataset.kind = kind
  $.toast.hidden = false
  clearTimeout(toastTimer)
  toastTimer = setTimeout(() => { $.toast.hidden = true }, TOAST_MS)
}

// ---- wiring ----

function bind (): void {
  for (const c of PROC_COLUMNS) {
    const th = $.procTable.querySelector<HTMLElement>(`thead th.col-${c.key}`)
    if (th !== null) th.style.width = `${c.width}px`
  }
  new ResizeObserver(fitProcColumns).observe($.procWrap)
  $.filter.addEventListener('input', () => { S.filter = $.filter.value; renderProcs() })
  $.expandAll.addEventListener('click', () => { foldAll(false) })
  $.collapseAll.addEventListener('click', () => { foldAll(true) })
  $.managedOnly.addEventListener('change', toggleManaged)
  $.procTable.addEventListener('click', onSortClick)
  $.searchTable.addEventListener('click', onSortClick)
  $.procBody.addEventListener('click', onProcClick)
  $.procBody.addEventListener('keydown', onProcKey)
  $.searchBody.addEventListener('click', onSearchClick)
  $.searchBody.addEventListener('keydown', onSearchKey)
  $.search.addEventListener('input', onSearchInput)
  $.search.addEventListener('keydown', ev => { if (ev.key === 'Escape') clearSearch() })
  $.searchClose.addEventListener('click', clearSearch)
  $.detailsClose.addEventListener('click', closeDetail)
  $.detailsStop.addEventListener('click', openStopDialog)
  $.detailsLogs.addEventListener('click', openDetailLogs)
  $.stopForm.addEventListener('submit', confirmStop)
  $.stopCancel.addEventListener('click', () => { $.stopDialog.close() })
  $.startOpen.addEventListener('click', openStartDialog)
  $.startForm.addEventListener('submit', submitStart)
  $.startCancel.addEventListener('click', () => { $.startDialog.close() })
  $.tokenForm.addEventListener('submit', submitToken)
  $.stopSignal.replaceChildren(...SIGNALS.map(s => h('option', { text: `SIG${s}`, attrs: { value: s } })))
  document.addEventListener('keydown', ev => {
    if (ev.key === 'Escape' && !$.details.hidden && document.querySelector('dialog[open]') === null) closeDetail()
  })
}

function start (): void {
  api.call<InfoJson>('GET', '/api/info').then(info => {
    S.info = info
    $.startOpen.hidden = !info.allowControl
    document.body.dataset.control = info.allowControl ? 'on' : 'off'
    loadHosts()
    connectEvents()
    deployments.start()
    loadHistory()
    if (S.selected !== null) refreshProcs()
  }, (err: unknown) => {
    if (err instanceof ApiError && err.status === 401) return
    setConn('reconnecting', errorText(err))
    setTimeout(start, 3000)
  }).catch((err: unknown) => { console.error(err) })
}

bind()
start()
