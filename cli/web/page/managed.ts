/**
 * The selected host's managed processes, as `procmesh ls` shows them (name, id, pid,
 * state, restarts, uptime, last exit, CPU, memory, policy, command), polled while the
 * "Managed only" filter is on; with --allow-control each row offers a restart (after a
 * confirmation), through `POST /api/managed/{host}/{ref}/restart`.
 */
import type { ManagedProcess } from '../../../protocols/managed.js'
import { formatBytes, formatDuration, formatLastExit, formatPolicy } from '../../format.js'
import type { ErrorJson, ManagedEntryJson, RestartJson } from '../api-types.js'
import { byId, closest, h } from './dom.js'
import { ApiError, type Api } from './net.js'

const REFRESH_MS = 3000

export class ManagedView {
  private readonly el = {
    wrap: byId('managed-wrap', HTMLDivElement),
    body: byId('managed-body', HTMLTableSectionElement),
    dialog: byId('restart-dialog', HTMLDialogElement),
    form: byId('restart-form', HTMLFormElement),
    text: byId('restart-text', HTMLParagraphElement),
    error: byId('restart-error', HTMLParagraphElement),
    cancel: byId('restart-cancel', HTMLButtonElement),
    confirm: byId('restart-confirm', HTMLButtonElement)
  }

  private peerId: string | null = null
  private on = false
  private records: ManagedProcess[] | null = null
  private error: ErrorJson | null = null
  private target: { peerId: string, ref: string, label: string } | null = null
  private timer: ReturnType<typeof setTimeout> | undefined
  private generation = 0

  /**
   * allowControl: whether to offer restarts; status: where the list's state is told;
   * toast: the result of a restart
   */
  constructor (
    private readonly api: Api,
    private readonly opts: {
      allowControl: () => boolean
      hostName: (peerId: string) => string
      status: (text: string | null, kind?: 'error') => void
      toast: (text: string, kind: 'ok' | 'error') => void
      /** show a managed process's output (its id, and a label for it) */
      openLogs: (peerId: string, ref: string, label: string) => void
    }
  ) {
    this.el.body.addEventListener('click', ev => {
      const btn = closest(ev.target, 'button[data-restart]', HTMLButtonElement)
      if (btn !== null) this.openRestart(btn.dataset.restart ?? '')
      const logs = closest(ev.target, 'button[data-logs]', HTMLButtonElement)
      const m = logs !== null ? this.records?.find(r => r.managedId === logs.dataset.logs) : undefined
      if (m !== undefined && this.peerId !== null) this.opts.openLogs(this.peerId, m.managedId, m.name ?? m.managedId)
    })
    this.el.form.addEventListener('submit', ev => { ev.preventDefault(); this.confirmRestart() })
    this.el.cancel.addEventListener('click', () => { this.el.dialog.close() })
  }

  get shown (): boolean {
    return this.on
  }

  /** Show (or hide) the managed processes of a host. */
  show (peerId: string | null, on: boolean): void {
    const changed = peerId !== this.peerId || on !== this.on
    this.peerId = peerId
    this.on = on
    this.el.wrap.hidden = !on
    if (!changed) return
    clearTimeout(this.timer)
    this.generation++
    this.records = null
    this.error = null
    if (on) { this.render(); this.refresh() }
  }

  refresh (): void {
    clearTimeout(this.timer)
    const peerId = this.peerId
    if (peerId === null || !this.on) return
    const generation = this.generation
    this.api.call<ManagedEntryJson[]>('GET', `/api/managed?host=${encodeURIComponent(peerId)}`)
      .then(entries => {
        if (generation !== this.generation) return
        const entry = entries[0]
        if (entry !== undefined && 'error' in entry) { this.error = entry.error; return }
        this.records = entry?.processes ?? []
        this.error = null
      }, (err: unknown) => {
        if (generation !== this.generation) return
        this.error = { code: err instanceof ApiError ? err.code : 'ERROR', message: err instanceof Error ? err.message : String(err) }
      })
      .then(() => {
        if (generation !== this.generation) return
        this.render()
        this.timer = setTimeout(() => { this.refresh() }, REFRESH_MS)
      })
      .catch((err: unknown) => { console.error(err) })
  }

  private render (): void {
    if (!this.on) return
    if (this.error !== null) this.opts.status(`${this.error.code}: ${this.error.message}`, 'error')
    else if (this.records === null) this.opts.status('Loading managed processes…')
    else if (this.records.length === 0) this.opts.status('No managed processes on this host: start one with the Start button or procmesh run.')
    else this.opts.status(null)
    const now = Date.now()
    const control = this.opts.allowControl()
    this.el.body.replaceChildren(...(this.records ?? []).map(m => {
      const running = m.state === 'running'
      const state = m.state === 'restarting' && m.nextRestartAt !== null ? `restarting (${formatDuration(Math.max(0, m.nextRestartAt - now) + 999)})` : m.state
      return h('tr', { class: 'row', dataset: { id: m.managedId, state: m.state, pid: String(m.pid) } }, [
        h('td', { class: 'col-mname pname', text: m.name ?? '-' }),
        h('td', { class: 'col-mid mono', text: m.managedId }),
        h('td', { class: 'num col-pid', text: running ? String(m.pid) : '-' }),
        h('td', { class: `col-mstate state-${m.state}`, text: state }),
        h('td', { class: 'num col-restarts', text: String(m.restarts) }),
        h('td', { class: 'num col-uptime', text: running ? formatDuration(now - m.startTime) : '-' }),
        h('td', { class: 'col-exit', text: formatLastExit(m) }),
        h('td', { class: 'num col-cpu', text: m.cpuPercent !== null ? m.cpuPercent.toFixed(1) : '-' }),
        h('td', { class: 'num col-mem', text: m.rss !== null ? formatBytes(m.rss) : '-' }),
        h('td', { class: 'col-policy', text: formatPolicy(m) }),
        h('td', { class: 'col-cmd pcmd', text: m.argv.join(' ') }),
        h('td', { class: 'col-actions' }, [
          h('button', { text: 'Logs', dataset: { logs: m.managedId }, attrs: { type: 'button', 'aria-label': `Logs of ${m.name ?? m.managedId}` } }),
          control
            ? h('button', { text: 'Restart', dataset: { restart: m.managedId }, attrs: { type: 'button', 'aria-label': `Restart ${m.name ?? m.managedId}` } })
            : null
        ])
      ])
    }))
  }

  private openRestart (managedId: string): void {
    const m = this.records?.find(r => r.managedId === managedId)
    if (m === undefined || this.peerId === null) return
    const label = m.name ?? m.managedId
    this.target = { peerId: this.peerId, ref: m.managedId, label }
    this.el.text.textContent = `Restart ${label} (${m.state === 'running' ? `pid ${m.pid}` : m.state}) on ${this.opts.hostName(this.peerId)}?`
    this.el.error.textContent = ''
    this.el.confirm.disabled = false
    this.el.dialog.showModal()
    this.el.cancel.focus()
  }

  private confirmRestart (): void {
    const t = this.target
    if (t === null) return
    this.el.confirm.disabled = true
    this.api.call<RestartJson>('POST', `/api/managed/${encodeURIComponent(t.peerId)}/${encodeURIComponent(t.ref)}/restart`, {}).then(r => {
      this.el.dialog.close()
      this.opts.toast(`restarted ${t.label} (pid ${r.pid}) on ${r.name}`, 'ok')
      this.refresh()
    }, (err: unknown) => {
      this.el.confirm.disabled = false
      const message = err instanceof Error ? err.message : String(err)
      this.el.error.textContent = message
      if (!(err instanceof ApiError && err.status === 401)) this.opts.toast(`Restart refused: ${message}`, 'error')
    }).catch((err: unknown) => { console.error(err) })
  }
}
