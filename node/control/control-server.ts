/**
 * The local control API server: newline-delimited JSON-RPC 2.0 on a Unix socket
 * (mode 0600) in the node's home. The CLI, the TUI and the web server are its clients.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { chmod, unlink } from 'node:fs/promises'
import type { ControlMethod } from '../../protocols/control-api.js'
import {
  RPC_INVALID_REQUEST, RPC_PARSE_ERROR, STREAM_NOTIFICATION, UnknownMethodError, rpcErrorFrom, type RpcErrorObject
} from '../../protocols/control.js'
import { errorMessage, toProcmeshError } from '../../protocols/errors.js'
import { JSON_RPC_VERSION } from '../../protocols/ids.js'
import { MAX_CONTROL_CONNECTIONS, MAX_CONTROL_REQUEST_BYTES } from '../../protocols/limits.js'
import { isRecord } from '../../protocols/validate.js'
import type { Logger } from '../logger.js'
import { probeSocket } from '../setup/doctor.js'
import { callerLookup, withLocalCaller, type LocalCaller } from './local-caller.js'

export interface RpcContext<Note = unknown> {
  /** send a notification belonging to this call (streamed results) */
  notify: (data: Note) => void
  /** aborted when the client goes away */
  signal: AbortSignal
}

export type RpcHandler = (params: unknown, ctx: RpcContext) => Promise<unknown>

/**
 * Register the handler of a control method against its descriptor: the handler gets
 * params the descriptor validated (a bad field is an INVALID_REQUEST naming it) and
 * must return the descriptor's result type.
 */
export function handle<Params, Result, Note> (
  handlers: Map<string, RpcHandler>,
  method: ControlMethod<Params, Result, Note>,
  handler: (params: Params, ctx: RpcContext<Note>) => Promise<Result>
): void {
  handlers.set(method.name, async (raw, ctx) => await handler(method.validateParams(raw), ctx))
}

export class NodeAlreadyRunningError extends Error {
  override name = 'NodeAlreadyRunningError'
}

/** True when something answers on the socket. */
export class ControlServer {
  private server?: Server
  private readonly sockets = new Set<Socket>()
  private readonly path: string
  private readonly handlers: ReadonlyMap<string, RpcHandler>
  private readonly log: Logger

  constructor (path: string, handlers: ReadonlyMap<string, RpcHandler>, log: Logger) {
    this.path = path
    this.handlers = handlers
    this.log = log
  }

  /** Throw when another node already serves this socket. */
  async assertFree (): Promise<void> {
    if ((await probeSocket(this.path)) === 'accepted') {
      throw new NodeAlreadyRunningError(`a node is already running with this home (socket ${this.path} answers)`)
    }
  }

  async start (): Promise<void> {
    if (this.server !== undefined) return
    await this.assertFree()
    if (process.platform !== 'win32') await unlink(this.path).catch(() => {}) // a stale socket left by a crash
    const server = createServer({ allowHalfOpen: false }, sock => { this.accept(sock) })
    server.maxConnections = MAX_CONTROL_CONNECTIONS
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.path, () => { server.off('error', reject); resolve() })
    })
    // a named pipe (Windows) has no file mode; its home's ACL is what protects it there
    if (process.platform !== 'win32') await chmod(this.path, 0o600)
    server.on('error', err => { this.log.error('control socket error: %s', err.message) })
    this.server = server
  }

  async stop (): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    for (const sock of this.sockets) sock.destroy()
    await new Promise<void>(resolve => server.close(() => { resolve() }))
    await unlink(this.path).catch(() => {})
  }

  private accept (sock: Socket): void {
    this.sockets.add(sock)
    const abort = new AbortController()
    const caller = callerLookup(sock)
    let buffered = ''
    sock.setEncoding('utf8')
    sock.on('data', (chunk: string) => {
      buffered += chunk
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (line.trim() !== '') this.dispatch(line, sock, abort.signal, caller)
      }
      if (buffered.length > MAX_CONTROL_REQUEST_BYTES) {
        this.write(sock, { jsonrpc: JSON_RPC_VERSION, id: null, error: { code: RPC_INVALID_REQUEST, message: `request line over ${MAX_CONTROL_REQUEST_BYTES} bytes` } })
        sock.end()
        buffered = ''
      }
    })
    sock.on('close', () => { this.sockets.delete(sock); abort.abort() })
    sock.on('error', () => { abort.abort() })
  }

  private write (sock: Socket, message: unknown): void {
    if (sock.destroyed || !sock.writable) return
    sock.write(JSON.stringify(message) + '\n')
  }

  private dispatch (line: string, sock: Socket, signal: AbortSignal, caller: () => Promise<LocalCaller | undefined>): void {
    let msg: unknown
    try {
      msg = JSON.parse(line)
    } catch {
      this.write(sock, { jsonrpc: JSON_RPC_VERSION, id: null, error: { code: RPC_PARSE_ERROR, message: 'parse error: not valid JSON' } })
      return
    }
    if (!isRecord(msg) || msg.jsonrpc !== JSON_RPC_VERSION || typeof msg.method !== 'string' ||
      !(typeof msg.id === 'number' || typeof msg.id === 'string')) {
      const id = isRecord(msg) && (typeof msg.id === 'number' || typeof msg.id === 'string') ? msg.id : null
      this.write(sock, { jsonrpc: JSON_RPC_VERSION, id, error: { code: RPC_INVALID_REQUEST, message: 'invalid request: expected {jsonrpc:"2.0", id, method, params?}' } })
      return
    }
    const id = msg.id
    const handler = this.handlers.get(msg.method)
    if (handler === undefined) {
      this.write(sock, { jsonrpc: JSON_RPC_VERSION, id, error: rpcErrorFrom(new UnknownMethodError(`unknown method ${JSON.stringify(msg.method).slice(0, 60)}`)) })
      return
    }
    const ctx: RpcContext = {
      notify: data => { this.write(sock, { jsonrpc: JSON_RPC_VERSION, method: STREAM_NOTIFICATION, params: { id, data } }) },
      signal
    }
    // the audit of what the method does names the local user behind it (local-caller.ts)
    withLocalCaller(caller, async () => await handler(msg.params, ctx)).then(result => {
      this.write(sock, { jsonrpc: JSON_RPC_VERSION, id, result: result ?? null })
    }, (err: unknown) => {
      const pe = toProcmeshError(err)
      if (pe.code === 'SERVER_ERROR') this.log.error('control method %s failed: %s', msg.method, errorMessage(err))
      const error: RpcErrorObject = rpcErrorFrom(pe)
      this.write(sock, { jsonrpc: JSON_RPC_VERSION, id, error })
    })
  }
}
