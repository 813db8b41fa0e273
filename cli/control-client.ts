/**
 * Client of the node's local control API (newline-delimited JSON-RPC 2.0 on the
 * Unix socket in the home). Deliberately free of libp2p so CLI commands start fast.
 */
import { createConnection, type Socket } from 'node:net'
import { STREAM_NOTIFICATION, procmeshErrorFrom } from '../protocols/control.js'
import { ProcmeshError } from '../protocols/errors.js'
import { JSON_RPC_VERSION } from '../protocols/ids.js'
import { controlEndpoint } from '../node/setup/home.js'
import { MAX_CONTROL_RESPONSE_BYTES } from '../protocols/limits.js'
import { isRecord } from '../protocols/validate.js'

export interface CallOptions {
  /** receives the notifications a streaming call sends before its result */
  onData?: (data: unknown) => void
  timeoutMs?: number
  signal?: AbortSignal
}

interface Pending {
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  onData?: (data: unknown) => void
  timer?: NodeJS.Timeout
}

export function socketPath (home: string): string {
  return controlEndpoint(home)
}

export function noNodeError (home: string): ProcmeshError {
  return new ProcmeshError('NO_NODE', `no node is running for home ${home} (start one with: procmesh node --home ${home})`)
}

export class ControlClient {
  private readonly sock: Socket
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  /** chunks of the line being received: joined once when its newline arrives (a 5 MB answer
   * arrives in hundreds of chunks; appending and rescanning a growing string would be quadratic) */
  private partial: string[] = []
  private partialBytes = 0
  private closedError?: Error
  private readonly onCloseHandlers: Array<() => void> = []

  private constructor (sock: Socket, home: string) {
    this.sock = sock
    sock.setEncoding('utf8')
    sock.on('data', (chunk: string) => { this.onData(chunk) })
    sock.on('close', () => {
      this.closedError ??= new ProcmeshError('UNAVAILABLE', `the node for home ${home} closed the connection`)
      for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(this.closedError) }
      this.pending.clear()
      for (const h of this.onCloseHandlers) h()
    })
    sock.on('error', (err: Error) => { this.closedError = new ProcmeshError('UNAVAILABLE', `control socket: ${err.message}`) })
  }

  static connect (home: string, timeoutMs = 3000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(socketPath(home))
      const timer = setTimeout(() => { sock.destroy(); reject(new ProcmeshError('TIMEOUT', `the node for home ${home} did not accept a connection within ${timeoutMs} ms`)) }, timeoutMs)
      sock.once('connect', () => { clearTimeout(timer); resolve(new ControlClient(sock, home)) })
      sock.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(noNodeError(home))
        else if (err.code === 'EACCES') reject(new ProcmeshError('OS_DENIED', `no permission to use the control socket ${socketPath(home)} (it belongs to the node's user)`))
        else reject(new ProcmeshError('UNAVAILABLE', `cannot reach the node for home ${home}: ${err.message}`))
      })
    })
  }

  onClose (handler: () => void): void {
    this.onCloseHandlers.push(handler)
  }

  call<T = unknown> (method: string, params?: unknown, opts: CallOptions = {}): Promise<T> {
    if (this.closedError !== undefined || this.sock.destroyed) return Promise.reject(this.closedError ?? new ProcmeshError('UNAVAILABLE', 'control connection closed'))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { resolve: v => { resolve(v as T) }, reject, onData: opts.onData }
      if (opts.timeoutMs !== undefined) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id)
          reject(new ProcmeshError('TIMEOUT', `${method}: no answer from the node within ${opts.timeoutMs} ms`))
        }, opts.timeoutMs)
      }
      opts.signal?.addEventListener('abort', () => {
        clearTimeout(entry.timer)
        this.pending.delete(id)
        reject(new ProcmeshError('TIMEOUT', `${method}: cancelled`))
      }, { once: true })
      this.pending.set(id, entry)
      this.sock.write(JSON.stringify({ jsonrpc: JSON_RPC_VERSION, id, method, ...(params !== undefined ? { params } : {}) }) + '\n')
    })
  }

  close (): void {
    this.sock.end()
    this.sock.destroy()
  }

  private onData (chunk: string): void {
    let start = 0
    let nl: number
    while ((nl = chunk.indexOf('\n', start)) >= 0) {
      const piece = chunk.slice(start, nl)
      const line = this.partial.length === 0 ? piece : this.partial.join('') + piece
      this.partial = []
      this.partialBytes = 0
      start = nl + 1
      this.onLine(line)
    }
    if (start < chunk.length) {
      this.partial.push(chunk.slice(start))
      this.partialBytes += chunk.length - start
    }
    if (this.partialBytes > MAX_CONTROL_RESPONSE_BYTES) {
      this.closedError = new ProcmeshError('PROTOCOL_ERROR', `response from the node over ${MAX_CONTROL_RESPONSE_BYTES} bytes`)
      this.partial = []
      this.sock.destroy()
    }
  }

  private onLine (line: string): void {
    let msg: unknown
    try { msg = JSON.parse(line) } catch { return }
    if (!isRecord(msg)) return
    if (msg.method === STREAM_NOTIFICATION && isRecord(msg.params)) {
      const p = this.pending.get(Number(msg.params.id))
      p?.onData?.(msg.params.data)
      return
    }
    if (typeof msg.id !== 'number') return
    const p = this.pending.get(msg.id)
    if (p === undefined) return
    this.pending.delete(msg.id)
    clearTimeout(p.timer)
    if ('error' in msg) p.reject(procmeshErrorFrom(msg.error))
    else if ('result' in msg) p.resolve(msg.result)
    else p.reject(new ProcmeshError('PROTOCOL_ERROR', 'response without result or error'))
  }
}

/** One call on a fresh connection. */
export async function callOnce<T> (home: string, method: string, params?: unknown, opts: CallOptions = {}): Promise<T> {
  const client = await ControlClient.connect(home)
  try {
    return await client.call<T>(method, params, opts)
  } finally {
    client.close()
  }
}
