/**
 * The logs panel: a managed process's output, followed live (`GET /api/logs?follow=1`,
 * server-sent events: `chunk`, then `end` when it exits, or `error`). The output is
 * untrusted text: it goes in with text nodes only. The panel keeps the last
 * LOGS_KEEP_CHARS characters so a chatty process cannot fill the browser's memory.
 */
import type { ErrorJson, LogChunkJson, LogsEndJson } from '../api-types.js'
import { byId, h } from './dom.js'
import { ApiError, type Api } from './net.js'

/** What the panel shows at most (the last of it): about as much as the node keeps per process. */
const LOGS_KEEP_CHARS = 1024 * 1024
/** A follow that failed is tried again after this long (the web server or the node restarted). */
const LOGS_RETRY_MS = 3000

export class LogsPanel {
  private readonly el = {
    panel: byId('logs', HTMLElement),
    title: byId('logs-title', HTMLHeadingElement),
    status: byId('logs-status', HTMLSpanElement),
    out: byId('logs-out', HTMLPreElement),
    close: byId('logs-close', HTMLButtonElement)
  }

  private abort: AbortController | null = null
  private retry: ReturnType<typeof setTimeout> | undefined
  private chars = 0
  /** the process shown: host (peer id) and ref (managed id) */
  private current: { peerId: string, ref: string } | null = null

  constructor (private readonly api: Api) {
    this.el.close.addEventListener('click', () => { this.close() })
  }

  /** Show and follow the output of managed process `ref` (its id) on a host. */
  open (peerId: string, hostName: string, ref: string, label: string): void {
    this.stop()
    this.current = { peerId, ref }
    this.el.panel.hidden = false
    this.el.title.textContent = `Logs: ${label} on ${hostName}`
    this.el.out.replaceChildren()
    this.chars = 0
    this.follow()
    this.el.panel.scrollIntoView({ block: 'nearest' })
  }

  close (): void {
    this.stop()
    this.current = null
    this.el.panel.hidden = true
    this.el.out.replaceChildren()
  }

  private stop (): void {
    this.abort?.abort()
    this.abort = null
    clearTimeout(this.retry)
  }

  private follow (): void {
    const cur = this.current
    if (cur === null) return
    const ctrl = new AbortController()
    this.abort = ctrl
    this.setStatus('connecting…', '')
    // a reconnect shows the kept output again: start from a clean panel
    let fresh = true
    let ended = false
    const path = `/api/logs?host=${encodeURIComponent(cur.peerId)}&id=${encodeURIComponent(cur.ref)}&follow=1`
    this.api.stream(path, ctrl.signal, () => { this.setStatus('following', 'live') }, msg => {
      if (msg.event === 'chunk') {
        if (fresh) { this.el.out.replaceChildren(); this.chars = 0; fresh = false }
        this.append(JSON.parse(msg.data) as LogChunkJson)
      } else if (msg.event === 'end') {
        ended = true
        const end = JSON.parse(msg.data) as LogsEndJson
        this.setStatus(endText(end), '')
      } else if (msg.event === 'error') {
        ended = true
        const e = JSON.parse(msg.data) as ErrorJson
        this.setStatus(`${e.code}: ${e.message}`, 'error')
      }
    }).then(() => {
      if (ctrl.signal.aborted || ended) return
      this.setStatus('the stream ended; reconnecting…', 'warn')
      this.retry = setTimeout(() => { this.follow() }, LOGS_RETRY_MS)
    }, (err: unknown) => {
      if (ctrl.signal.aborted) return
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) { this.setStatus(`${err.code}: ${err.message}`, 'error'); return }
      this.setStatus(`${err instanceof Error ? err.message : String(err)}; reconnecting…`, 'warn')
      this.retry = setTimeout(() => { this.follow() }, LOGS_RETRY_MS)
    }).catch(() => {})
  }

  private append (chunk: LogChunkJson): void {
    const out = this.el.out
    const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 4
    out.appendChild(chunk.stream === 'stderr' ? h('span', { class: 'log-err', text: chunk.data }) : document.createTextNode(chunk.data))
    this.chars += chunk.data.length
    while (this.chars > LOGS_KEEP_CHARS && out.firstChild !== null) {
      this.chars -= (out.firstChild.textContent ?? '').length
      out.firstChild.remove()
    }
    if (atBottom) out.scrollTop = out.scrollHeight
  }

  private setStatus (text: string, kind: '' | 'live' | 'warn' | 'error'): void {
    this.el.status.textContent = text
    this.el.status.dataset.kind = kind
  }
}

/** `exited with code 0` / `killed by SIGTERM` (and whether earlier output was dropped). */
function endText (end: LogsEndJson): string {
  const how = end.signal !== null
    ? `killed by ${end.signal.startsWith('SIG') ? end.signal : `SIG${end.signal}`}`
    : `exited with code ${end.exitCode ?? 'unknown'}`
  return end.truncated ? `${how} (earlier output was dropped)` : how
}
