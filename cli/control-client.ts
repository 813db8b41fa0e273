/**
 * Client of the node's local control API (newline-delimited JSON-RPC 2.0 on the
 * Unix socket in the home): ControlConnection speaks the JSON-RPC, ControlClient has
 * one typed method per call and checks every answer against the method's descriptor
 * in protocols/control-api.ts (as serf's rpc_client does). The CLI commands, the TUI
 * and the web server all call the node through ControlClient. Deliberately free of
 * libp2p so CLI commands start fast.
 */
import { createConnection, type Socket } from 'node:net'
import { CONTROL_API, type ControlMethod } from '../protocols/control-api.js'
import {
  STREAM_NOTIFICATION, procmeshErrorFrom, type AuditParams, type AuditTargetEntry, type HistoryEntry, type HistoryParams,
  type InviteParams, type InviteResult, type KillParams, type KillResult, type LogsParams, type LogsResult, type PeersParams, type PsEntry,
  type LsEntry, type LsParams, type PsParams, type RestartParams, type RestartResultEntry, type RmParams, type RmResult, type RunEntry, type RunParams, type RunResult, type TrustAddParams, type TrustAddResult, type TrustListResult,
  type TrustRemoveParams, type TrustRemoveResult
} from '../protocols/control.js'
import type { DeployParams, DeployResult, DeploymentStatus } from '../protocols/deploy.js'
import { ProcmeshError, checkAnswer, toProcmeshError } from '../protocols/errors.js'
import type { LogChunk } from '../protocols/messages.js'
import type { RotateKeyParams, RotateKeyResultLocal } from '../protocols/rotate-key.js'
import type { IdInfo, PeerEntry } from '../protocols/types.js'
import { JSON_RPC_VERSION } from '../protocols/ids.js'
import { controlEndpoint, homePaths } from '../node/setup/home.js'
import { describeOrphans, findOrphanNodes } from '../node/setup/orphans.js'
import { existsSync } from 'node:fs'
import { MAX_CONTROL_RESPONSE_BYTES } from '../protocols/limits.js'
import { isRecord } from '../protocols/validate.js'

export interface CallOptions {
  /** receives the notifications a streaming call sends before its result */
  onData?: (data: unknown) => void
  timeoutMs?: number
  signal?: AbortSignal
}

/** What ControlClient needs of a connection: untyped JSON-RPC calls (ControlConnection, or a test's stand-in). */
export interface ControlTransport {
  call: (method: string, params: unknown, opts: CallOptions) => Promise<unknown>
  onClose: (handler: () => void) => void
  close: () => void
}

interface Pending {
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  onData?: (data: unknown) => void
  timer?: NodeJS.Timeout
}

/** How long connecting to the control socket may take: it is local, so a node that takes longer is wedged. */
export const CONNECT_TIMEOUT_MS = 3000
/** A quick is-a-node-there probe (join, service) waits this long for the socket. */
export const NODE_PROBE_TIMEOUT_MS = 1000

export function socketPath (home: string): string {
  return controlEndpoint(home)
}

/**
 * True when a node runs for the home: something accepts on its control socket, or
 * refuses us for another reason than its absence (a socket of another user, a wedged node).
 */
export async function nodeRunning (home: string, timeoutMs = NODE_PROBE_TIMEOUT_MS): Promise<boolean> {
  try {
    (await ControlConnection.connect(home, timeoutMs)).close()
    return true
  } catch (err: unknown) {
    return !isNoNode(err)
  }
}

/** True when `err` says no node runs for the home (commands then fall back to the home's files). */
export function isNoNode (err: unknown): boolean {
  return err instanceof ProcmeshError && err.code === 'NO_NODE'
}

export function noNodeError (home: string): ProcmeshError {
  // a node whose home was deleted under it may still run: starting another would make a second mesh
  const orphans = findOrphanNodes(home)
  if (orphans.length > 0) return new ProcmeshError('NO_NODE', describeOrphans(home, orphans))
  if (!existsSync(homePaths(home).identityKey)) {
    return new ProcmeshError('NO_NODE', `no node is running for home ${home}, and it holds no identity: procmesh node --home ${home} creates a new mesh; ` +
      'to join an existing one, run procmesh join TOKEN (TOKEN from procmesh invite on one of its nodes)')
  }
  return new ProcmeshError('NO_NODE', `no node is running for home ${home} (start one with: procmesh node --home ${home})`)
}

/** One JSON-RPC connection to the node's control socket. */
export class ControlConnection implements ControlTransport {
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

  static connect (home: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<ControlConnection> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(socketPath(home))
      const timer = setTimeout(() => { sock.destroy(); reject(new ProcmeshError('TIMEOUT', `the node for home ${home} did not accept a connection within ${timeoutMs} ms`)) }, timeoutMs)
      sock.once('connect', () => { clearTimeout(timer); resolve(new ControlConnection(sock, home)) })
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

  call (method: string, params: unknown, opts: CallOptions = {}): Promise<unknown> {
    if (this.closedError !== undefined || this.sock.destroyed) return Promise.reject(this.closedError ?? new ProcmeshError('UNAVAILABLE', 'control connection closed'))
    const id = this.nextId++
    return new Promise<unknown>((resolve, reject) => {
      const entry: Pending = { resolve, reject, onData: opts.onData }
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

export interface InvokeOptions<Note> {
  /** each notification of a streaming call, validated */
  onData?: (note: Note) => void
  /** a notification that failed validation; default: dropped */
  onMalformed?: (err: ProcmeshError) => void
  /** instead of the method's default; `false`: until the answer comes or `signal` aborts */
  timeoutMs?: number | false
  signal?: AbortSignal
}

/** The node's control API, one typed method per call; every answer is validated here. */
export class ControlClient {
  private readonly transport: ControlTransport

  constructor (transport: ControlTransport) {
    this.transport = transport
  }

  static async connect (home: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<ControlClient> {
    return new ControlClient(await ControlConnection.connect(home, timeoutMs))
  }

  /** Call `method`: its result (and notifications) checked against the descriptor; a bad answer is PROTOCOL_ERROR. */
  async invoke<Params, Result, Note> (method: ControlMethod<Params, Result, Note>, params: Params, opts: InvokeOptions<Note> = {}): Promise<Result> {
    const timeoutMs = opts.timeoutMs === false ? undefined : opts.timeoutMs ?? method.timeoutMs(params)
    const onData = opts.onData
    const validateNote = method.validateNotification
    const context = `${method.name}: bad answer from the node`
    const raw = await this.transport.call(method.name, params, {
      timeoutMs,
      signal: opts.signal,
      onData: onData === undefined || validateNote === undefined
        ? undefined
        : data => {
          let note: Note
          try {
            note = checkAnswer(() => validateNote(data), context)
          } catch (err: unknown) {
            opts.onMalformed?.(toProcmeshError(err))
            return
          }
          onData(note)
        }
    })
    return checkAnswer(() => method.validateResult(raw), context)
  }

  id (opts?: InvokeOptions<never>): Promise<IdInfo> { return this.invoke(CONTROL_API.id, undefined, opts) }
  peers (params: PeersParams = {}, opts?: InvokeOptions<never>): Promise<PeerEntry[]> { return this.invoke(CONTROL_API.peers, params, opts) }
  ps (params: PsParams, opts?: InvokeOptions<PsEntry>): Promise<PsEntry[]> { return this.invoke(CONTROL_API.ps, params, opts) }
  history (params: HistoryParams, opts?: InvokeOptions<HistoryEntry>): Promise<HistoryEntry[]> { return this.invoke(CONTROL_API.history, params, opts) }
  /** `run` on one host: its RunResult */
  async run (params: RunParams, opts?: InvokeOptions<RunEntry>): Promise<RunResult> {
    const answer = await this.invoke(CONTROL_API.run, params, opts)
    if (Array.isArray(answer)) throw new ProcmeshError('PROTOCOL_ERROR', `run ${params.target}: the node answered a group result for one host`)
    return answer
  }

  /** `run` on a group target (`all`, `tag:K=V`): one RunEntry per host, each also streamed to `onData` as it arrives */
  async runGroup (params: RunParams, opts?: InvokeOptions<RunEntry>): Promise<RunEntry[]> {
    const answer = await this.invoke(CONTROL_API.run, params, opts)
    if (!Array.isArray(answer)) throw new ProcmeshError('PROTOCOL_ERROR', `run ${params.target}: expected one entry per host from the node`)
    return answer
  }
  kill (params: KillParams, opts?: InvokeOptions<never>): Promise<KillResult> { return this.invoke(CONTROL_API.kill, params, opts) }
  logs (params: LogsParams, opts?: InvokeOptions<LogChunk>): Promise<LogsResult> { return this.invoke(CONTROL_API.logs, params, opts) }
  audit (params: AuditParams, opts?: InvokeOptions<AuditTargetEntry>): Promise<AuditTargetEntry[]> { return this.invoke(CONTROL_API.audit, params, opts) }
  trustList (opts?: InvokeOptions<never>): Promise<TrustListResult> { return this.invoke(CONTROL_API.trustList, undefined, opts) }
  trustAdd (params: TrustAddParams, opts?: InvokeOptions<never>): Promise<TrustAddResult> { return this.invoke(CONTROL_API.trustAdd, params, opts) }
  trustRemove (params: TrustRemoveParams, opts?: InvokeOptions<never>): Promise<TrustRemoveResult> { return this.invoke(CONTROL_API.trustRemove, params, opts) }
  invite (params: InviteParams, opts?: InvokeOptions<never>): Promise<InviteResult> { return this.invoke(CONTROL_API.invite, params, opts) }
  ls (params: LsParams, opts?: InvokeOptions<LsEntry>): Promise<LsEntry[]> { return this.invoke(CONTROL_API.ls, params, opts) }
  restart (params: RestartParams, opts?: InvokeOptions<never>): Promise<RestartResultEntry> { return this.invoke(CONTROL_API.restart, params, opts) }
  rm (params: RmParams, opts?: InvokeOptions<never>): Promise<RmResult> { return this.invoke(CONTROL_API.rm, params, opts) }
  deploy (params: DeployParams, opts?: InvokeOptions<never>): Promise<DeployResult> { return this.invoke(CONTROL_API.deploy, params, opts) }
  deployments (params: { name?: string } = {}, opts?: InvokeOptions<never>): Promise<DeploymentStatus[]> { return this.invoke(CONTROL_API.deployments, params, opts) }
  undeploy (params: { name: string }, opts?: InvokeOptions<never>): Promise<DeployResult> { return this.invoke(CONTROL_API.undeploy, params, opts) }
  rotateKey (params: RotateKeyParams, opts?: InvokeOptions<never>): Promise<RotateKeyResultLocal> { return this.invoke(CONTROL_API.rotateKey, params, opts) }

  onClose (handler: () => void): void {
    this.transport.onClose(handler)
  }

  close (): void {
    this.transport.close()
  }
}

/** Run `fn` with a client on a fresh connection, closed afterwards. */
export async function withClient<T> (home: string, fn: (client: ControlClient) => Promise<T>): Promise<T> {
  const client = await ControlClient.connect(home)
  try {
    return await fn(client)
  } finally {
    client.close()
  }
}
