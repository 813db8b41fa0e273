/**
 * The dashboard's talk with its server: the API token (kept in the browser), JSON
 * requests, and the event stream (read with fetch, so the bearer token can be sent).
 */
import type { ErrorJson } from '../api-types.js'
import { sseParser, type SseMessage } from '../page-lib.js'

const TOKEN_KEY = 'procmesh.web.token'

/** An API answer that was not 2xx: the server's code and message. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor (message: string, readonly status: number, readonly code: string) {
    super(message)
  }
}

export function readToken (): string {
  try {
    return window.localStorage.getItem(TOKEN_KEY) ?? ''
  } catch {
    return ''
  }
}

/** Keep the token in the browser (private mode: for this page only). */
export function storeToken (token: string): void {
  try {
    if (token !== '') window.localStorage.setItem(TOKEN_KEY, token)
    else window.localStorage.removeItem(TOKEN_KEY)
  } catch { /* private mode: the token lasts for this page only */ }
}

export class Api {
  token = readToken()

  /** told when the server refuses the token (401), with its reason */
  constructor (private readonly onUnauthorized: (reason: string) => void) {}

  setToken (token: string): void {
    this.token = token
    storeToken(token)
  }

  headers (extra: Record<string, string>): Record<string, string> {
    return this.token !== '' ? { ...extra, Authorization: `Bearer ${this.token}` } : extra
  }

  /** fetch JSON; rejects with an ApiError carrying the status, code and the server's message. */
  async call<T> (method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers = this.headers({ Accept: 'application/json' })
    const init: RequestInit = { method, headers, cache: 'no-store', credentials: 'same-origin' }
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json'
      init.body = JSON.stringify(body)
    }
    const res = await fetch(path, init)
    const text = await res.text()
    let data: unknown = null
    try {
      data = text !== '' ? JSON.parse(text) : null
    } catch {
      data = null
    }
    if (!res.ok) {
      const e = errorOf(data) ?? { code: `HTTP_${res.status}`, message: `HTTP ${res.status} ${res.statusText}` }
      if (res.status === 401) this.onUnauthorized(e.message)
      throw new ApiError(e.message, res.status, e.code)
    }
    // the page's own server answered: its shapes are api-types.ts
    return data as T
  }

  /**
   * Read /api/events until it ends or `signal` aborts; `onOpen` once the stream is
   * accepted. Rejects with an ApiError (401) or an Error when the stream fails or ends.
   */
  async events (signal: AbortSignal, onOpen: () => void, onMessage: (msg: SseMessage) => void): Promise<never> {
    await this.stream('/api/events', signal, onOpen, onMessage)
    throw new Error('the event stream ended')
  }

  /**
   * Read a server-sent event stream until the server ends it (resolves) or `signal`
   * aborts; `onOpen` once it is accepted. A refusal before the stream opens rejects with
   * an ApiError carrying the server's status and message.
   */
  async stream (path: string, signal: AbortSignal, onOpen: () => void, onMessage: (msg: SseMessage) => void): Promise<void> {
    const res = await fetch(path, { headers: this.headers({ Accept: 'text/event-stream' }), cache: 'no-store', signal })
    if (!res.ok || res.body === null) {
      let data: unknown = null
      try { data = JSON.parse(await res.text()) } catch { data = null }
      const e = errorOf(data) ?? { code: `HTTP_${res.status}`, message: `HTTP ${res.status}` }
      if (res.status === 401) this.onUnauthorized(e.message)
      throw new ApiError(e.message, res.status, e.code)
    }
    onOpen()
    const reader = res.body.getReader()
    const decoder = new TextDecoder()
    const parser = sseParser(onMessage)
    for (;;) {
      const r = await reader.read()
      if (r.done) return
      parser.push(decoder.decode(r.value, { stream: true }))
    }
  }
}

function errorOf (data: unknown): ErrorJson | undefined {
  if (typeof data !== 'object' || data === null || !('error' in data)) return undefined
  const e = data.error
  if (typeof e !== 'object' || e === null || !('code' in e) || !('message' in e)) return undefined
  return typeof e.code === 'string' && typeof e.message === 'string' ? { code: e.code, message: e.message } : undefined
}
