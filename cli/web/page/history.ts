/**
 * The selected host's CPU and memory over a chosen range (1 h, 24 h, 7 d, or from/to),
 * from the durable history its node keeps (`GET /api/history` with a range). Picking a
 * time on the chart (a click, or the arrow keys) lists the top processes of the sample
 * nearest it.
 */
import { formatBytes, formatStart } from '../../format.js'
import type { HistoryEntryJson, HistoryPointJson, HistoryProcessJson } from '../api-types.js'
import {
  RANGE_CHOICES, chartPath, formatChartTime, gapThreshold, isRangeChoice, nearestPoint, parseLocalDateTime, toLocalDateTime, type RangeChoice
} from '../page-lib.js'
import { byId, closest, h, svg } from './dom.js'
import type { Api } from './net.js'

/** Chart columns: a point per ~2 px of a wide chart; the node downsamples to this. */
const CHART_POINTS = 400
/** Top processes listed under a picked time. */
const TOP_N = 10
/** A preset range (ending now) is fetched again this often while shown. */
const REFRESH_MS = 30_000
const WIDTH = 1000
const HEIGHT = 100

type HistoryOk = Extract<HistoryEntryJson, { points: HistoryPointJson[] }>

export class HistoryPanel {
  private readonly el = {
    ranges: byId('history', HTMLElement),
    form: byId('range-form', HTMLFormElement),
    from: byId('range-from', HTMLInputElement),
    to: byId('range-to', HTMLInputElement),
    chart: byId('history-chart', HTMLDivElement),
    axisFrom: byId('chart-from', HTMLSpanElement),
    axisTo: byId('chart-to', HTMLSpanElement),
    memKey: byId('key-mem', HTMLSpanElement),
    status: byId('history-status', HTMLParagraphElement),
    top: byId('history-top', HTMLDivElement),
    topTitle: byId('history-top-title', HTMLParagraphElement),
    topBody: byId('history-top-body', HTMLTableSectionElement)
  }

  private peerId: string | null = null
  private choice: RangeChoice | null = '1h'
  private range = { from: 0, to: 0 }
  private data: HistoryOk | null = null
  private picked = -1
  private timer: ReturnType<typeof setTimeout> | undefined
  /** bumped per request, so a slow answer for an old host or range is dropped */
  private generation = 0

  constructor (private readonly api: Api) {
    for (const btn of this.el.ranges.querySelectorAll<HTMLButtonElement>('button[data-range]')) {
      btn.addEventListener('click', () => { if (isRangeChoice(btn.dataset.range)) this.choose(btn.dataset.range) })
    }
    this.el.form.addEventListener('submit', ev => { ev.preventDefault(); this.submitRange() })
    this.el.chart.addEventListener('click', ev => { this.pickAtX(ev.clientX) })
    this.el.chart.addEventListener('keydown', ev => { this.onKey(ev) })
    this.el.topBody.addEventListener('click', ev => { closest(ev.target, 'tr', HTMLTableRowElement)?.focus() })
  }

  /** Show a host (null: none); keeps the range the user chose. */
  show (peerId: string | null): void {
    if (peerId === this.peerId) return
    this.peerId = peerId
    this.data = null
    this.picked = -1
    this.el.top.hidden = true
    this.draw()
    this.load()
  }

  private choose (choice: RangeChoice): void {
    this.choice = choice
    this.picked = -1
    this.el.top.hidden = true
    this.load()
  }

  private submitRange (): void {
    const from = parseLocalDateTime(this.el.from.value)
    const to = this.el.to.value === '' ? Date.now() : parseLocalDateTime(this.el.to.value)
    if (from === undefined || to === undefined) { this.setStatus('Give a start (and an end, or leave it empty for now).', 'error'); return }
    if (from >= to) { this.setStatus('The start must be before the end.', 'error'); return }
    this.choice = null
    this.range = { from, to }
    this.picked = -1
    this.el.top.hidden = true
    this.load()
  }

  private load (): void {
    clearTimeout(this.timer)
    const peerId = this.peerId
    for (const btn of this.el.ranges.querySelectorAll<HTMLButtonElement>('button[data-range]')) btn.setAttribute('aria-pressed', String(btn.dataset.range === this.choice))
    if (peerId === null) return
    if (this.choice !== null) {
      const now = Date.now()
      this.range = { from: now - RANGE_CHOICES[this.choice], to: now }
      this.el.from.value = toLocalDateTime(this.range.from)
      this.el.to.value = ''
    }
    const { from, to } = this.range
    const generation = ++this.generation
    if (this.data === null) this.setStatus('Loading history…')
    this.api.call<HistoryEntryJson[]>('GET', `/api/history?host=${encodeURIComponent(peerId)}&from=${Math.round(from)}&to=${Math.round(to)}&points=${CHART_POINTS}`)
      .then(entries => {
        if (generation !== this.generation) return
        const entry = entries[0]
        if (entry === undefined) { this.data = null; this.setStatus('No answer for this host.', 'error'); return }
        if ('error' in entry) { this.data = null; this.setStatus(`${entry.error.code}: ${entry.error.message}`, 'error'); return }
        this.data = entry
        if (entry.range === undefined) this.setStatus('This host\'s node keeps no durable history (an older version): only its last hour in memory is shown.', 'warn')
        else if (entry.points.length === 0) this.setStatus('No samples recorded in this range.', 'warn')
        else this.el.status.hidden = true
      }, (err: unknown) => {
        if (generation !== this.generation) return
        this.setStatus(err instanceof Error ? err.message : String(err), 'error')
      })
      .then(() => {
        if (generation !== this.generation) return
        this.draw()
        if (this.choice !== null) this.timer = setTimeout(() => { this.load() }, REFRESH_MS)
      })
      .catch((err: unknown) => { console.error(err) })
  }

  private setStatus (text: string, kind: '' | 'error' | 'warn' = ''): void {
    this.el.status.hidden = false
    this.el.status.className = kind === '' ? 'status' : `status ${kind}`
    this.el.status.textContent = text
  }

  private draw (): void {
    const { from, to } = this.range
    const span = to - from
    this.el.axisFrom.textContent = this.peerId !== null && span > 0 ? formatChartTime(from, span) : ''
    this.el.axisTo.textContent = this.peerId !== null && span > 0 ? (this.choice !== null ? 'now' : formatChartTime(to, span)) : ''
    const data = this.data
    this.el.memKey.textContent = data !== null && data.memTotal > 0 ? `memory 0–${formatBytes(data.memTotal)}` : 'memory'
    if (data === null) { this.el.chart.replaceChildren(); return }
    const gap = gapThreshold(data.range?.bucketMs ?? data.intervalMs)
    const line = (cls: string, value: (p: HistoryPointJson) => number, max: number): SVGPathElement =>
      svg('path', { class: `line ${cls}`, d: chartPath(data.points.map(p => ({ at: p.at, value: value(p) })), from, to, WIDTH, HEIGHT, max, gap) })
    const parts: SVGElement[] = [
      line('line-mem', p => p.memUsed, data.memTotal),
      line('line-cpumax', p => p.cpuMax ?? p.cpuPercent, 100),
      line('line-cpu', p => p.cpuPercent, 100)
    ]
    const picked = data.points[this.picked]
    if (picked !== undefined) {
      const x = ((picked.at - from) / (span > 0 ? span : 1) * WIDTH).toFixed(1)
      parts.push(svg('line', { class: 'cursor', x1: x, x2: x, y1: '0', y2: String(HEIGHT) }))
    }
    const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', 'aria-hidden': 'true' }, parts)
    chart.dataset.points = String(data.points.length)
    this.el.chart.replaceChildren(chart)
  }

  private pickAtX (clientX: number): void {
    const rect = this.el.chart.getBoundingClientRect()
    if (this.data === null || rect.width <= 0) return
    const fraction = Math.max(0, Math.min(1, (clientX - rect.left) / rect.width))
    this.pick(nearestPoint(this.data.points, this.range.from + fraction * (this.range.to - this.range.from)))
  }

  private onKey (ev: KeyboardEvent): void {
    if (this.data === null || this.data.points.length === 0) return
    const last = this.data.points.length - 1
    let index: number | undefined
    if (ev.key === 'ArrowLeft') index = Math.max(0, (this.picked < 0 ? last + 1 : this.picked) - 1)
    else if (ev.key === 'ArrowRight') index = Math.min(last, this.picked + 1)
    else if (ev.key === 'Home') index = 0
    else if (ev.key === 'End') index = last
    if (index === undefined) return
    ev.preventDefault()
    this.pick(index)
  }

  /** Pick a point: draw the cursor and list the top processes of the sample nearest it. */
  private pick (index: number): void {
    const data = this.data
    const peerId = this.peerId
    const point = data?.points[index]
    if (data === null || peerId === null || point === undefined) return
    this.picked = index
    this.draw()
    // a narrow range around the point: the node reads only the segment it is in
    const half = Math.max(data.range?.bucketMs ?? data.intervalMs, data.intervalMs)
    const from = Math.max(0, Math.round(point.at - half))
    const to = Math.round(point.at + half)
    const generation = this.generation
    this.el.top.hidden = false
    this.el.topTitle.textContent = `Top processes near ${new Date(point.at).toLocaleString()}: loading…`
    this.api.call<HistoryEntryJson[]>('GET', `/api/history?host=${encodeURIComponent(peerId)}&from=${from}&to=${to}&at=${Math.round(point.at)}&top=${TOP_N}&points=1`)
      .then(entries => {
        if (generation !== this.generation || this.picked !== index) return
        const entry = entries[0]
        if (entry === undefined || 'error' in entry) {
          this.el.topTitle.textContent = entry !== undefined && 'error' in entry ? `${entry.error.code}: ${entry.error.message}` : 'No answer for this host.'
          this.el.topBody.replaceChildren()
          return
        }
        const sample = entry.atSample
        if (sample === undefined || sample.processes.length === 0) {
          this.el.topTitle.textContent = `No process sample recorded near ${new Date(point.at).toLocaleString()}.`
          this.el.topBody.replaceChildren()
          return
        }
        this.el.topTitle.textContent = `Top processes at ${new Date(sample.at).toLocaleString()} (CPU ${point.cpuPercent.toFixed(1)}%, memory ${formatBytes(point.memUsed)})`
        this.renderTop(sample.processes, sample.at)
      }, (err: unknown) => {
        if (generation !== this.generation || this.picked !== index) return
        this.el.topTitle.textContent = err instanceof Error ? err.message : String(err)
        this.el.topBody.replaceChildren()
      })
      .catch((err: unknown) => { console.error(err) })
  }

  private renderTop (processes: readonly HistoryProcessJson[], at: number): void {
    const rows = [...processes].sort((a, b) => b.cpuPercent - a.cpuPercent || b.rss - a.rss || a.pid - b.pid).slice(0, TOP_N)
    this.el.topBody.replaceChildren(...rows.map(p => h('tr', { dataset: { pid: String(p.pid) }, attrs: { tabindex: '-1' } }, [
      h('td', { class: 'col-cmd', text: p.name }),
      h('td', { class: 'num', text: String(p.pid) }),
      h('td', { class: 'col-user', text: p.user }),
      h('td', { class: 'num', text: p.cpuPercent.toFixed(1) }),
      h('td', { class: 'num', text: formatBytes(p.rss) }),
      h('td', { class: 'col-start', text: formatStart(p.startTime, at) })
    ])))
  }
}
