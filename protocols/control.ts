/**
 * The local control API: newline-delimited JSON-RPC 2.0 on a Unix socket in the
 * node's home. Method names and the error mapping live here once.
 */
import type { AuditEntry } from './audit.js'
import { isErrorCode, ProcmeshError, type ErrorCode } from './errors.js'
import type { HistoryRequest, HistoryResult, ListTop, LogChunk, SignalName } from './messages.js'
import { expectArray, expectRecord, expectString, isRecord } from './validate.js'
import type { ProcessInfo } from './types.js'
import type { ManagedProcess, RestartPolicy } from './managed.js'
import type { Role, TrustRole } from './wire.js'

export const CONTROL_METHODS = {
  id: 'id',
  peers: 'peers',
  ps: 'ps',
  run: 'run',
  kill: 'kill',
  logs: 'logs',
  ls: 'ls',
  restart: 'restart',
  rm: 'rm',
  history: 'history',
  audit: 'audit',
  trustList: 'trust.list',
  trustAdd: 'trust.add',
  trustRemove: 'trust.remove',
  invite: 'invite',
  deploy: 'deploy',
  deployments: 'deployments',
  undeploy: 'undeploy',
  rotateKey: 'rotate-key'
} as const

/** JSON-RPC 2.0 error codes; application errors carry our ErrorCode in `data.code`. */
export const RPC_PARSE_ERROR = -32700
export const RPC_INVALID_REQUEST = -32600
export const RPC_METHOD_NOT_FOUND = -32601
export const RPC_INVALID_PARAMS = -32602
export const RPC_APP_ERROR = -32000

/** Method of the notifications a streaming call sends before its final response. */
export const STREAM_NOTIFICATION = 'stream'

export interface RpcErrorObject { code: number, message: string, data?: { code: ErrorCode } }

/** The node has no such method (an older node): NOT_FOUND, told apart by its class on both sides of the socket. */
export class UnknownMethodError extends ProcmeshError {
  override name = 'UnknownMethodError'
  constructor (message: string) {
    super('NOT_FOUND', message)
  }
}

export function rpcErrorFrom (err: ProcmeshError): RpcErrorObject {
  const code = err instanceof UnknownMethodError ? RPC_METHOD_NOT_FOUND : err.code === 'INVALID_REQUEST' ? RPC_INVALID_PARAMS : RPC_APP_ERROR
  return { code, message: err.message, data: { code: err.code } }
}

/** Turn a JSON-RPC error object from the wire back into a ProcmeshError. */
export function procmeshErrorFrom (value: unknown): ProcmeshError {
  if (!isRecord(value)) return new ProcmeshError('PROTOCOL_ERROR', 'malformed error from the node')
  const message = typeof value.message === 'string' ? value.message : 'unknown error'
  const data = value.data
  if (value.code === RPC_METHOD_NOT_FOUND) return new UnknownMethodError(message)
  if (isRecord(data) && isErrorCode(data.code)) return new ProcmeshError(data.code, message)
  if (value.code === RPC_INVALID_PARAMS || value.code === RPC_INVALID_REQUEST || value.code === RPC_PARSE_ERROR) return new ProcmeshError('INVALID_REQUEST', message)
  return new ProcmeshError('SERVER_ERROR', message)
}

// ---- params and results of the control methods (the CLI, TUI and web use these) ----

/** `ps`: streams one PsEntry per target as it arrives (notifications), then returns all of them. */
/**
 * With `streamed: true` the caller consumes the notifications, and the final result repeats
 * each entry without its processes (a mesh-wide answer would otherwise travel twice).
 */
/**
 * `peers` params: `live` names the hosts a viewer shows ('all' or peer ids); the node pulls
 * their newest figures (node/mesh/live-figures.ts) and lays them over the gossiped ones.
 */
export interface PeersParams { live?: 'all' | string[] }
/** peer ids a viewer may watch in one call (a screen shows far fewer) */
export const MAX_LIVE_IDS = 1024

export function parsePeersParams (value: unknown): PeersParams {
  if (value === undefined || value === null) return {}
  const r = expectRecord(value, 'params')
  if (r.live === undefined) return {}
  if (r.live === 'all') return { live: 'all' }
  return { live: expectArray(r.live, 'params.live', MAX_LIVE_IDS).map((v, i) => expectString(v, `params.live[${i}]`, { minLength: 1, maxBytes: 128 })) }
}

/** `top`: each host answers only its busiest processes (and how many matched, as `total`). */
/**
 * hostTimeoutMs: how long the node waits for each host (default: its fan-out timeout, 10 s); a
 * host that has not answered by then gets a TIMEOUT entry naming it, so the client, which waits
 * a little longer, never sees a host silently missing.
 */
export interface PsParams { target: string, filter?: string, streamed?: boolean, top?: ListTop, hostTimeoutMs?: number }
export interface PeerError { code: ErrorCode, message: string }
export type PsEntry =
  | { peerId: string, name: string, collectedAt: number, processes: ProcessInfo[], total?: number }
  | { peerId: string, name: string, error: PeerError }

/**
 * `run`: `requestId` makes retries idempotent (the CLI generates one). One host
 * answers with a RunResult; a group target (`all`, `tag:K=V`) streams one RunEntry
 * per matching host as a notification and answers with all of them (an array).
 * `name` and `policy` make it a named, supervised process (unique names per host).
 */
export interface RunParams { target: string, argv: string[], cwd?: string, env?: Record<string, string>, requestId?: string, name?: string, policy?: RestartPolicy }
export interface RunResult { peerId: string, name: string, managedId: string, pid: number, startTime: number }
export type RunEntry = RunResult | { peerId: string, name: string, error: PeerError }

/**
 * `kill`: pid, or ref (a managed id or name on the target, resolved there to its running pid).
 * startTime optional: the node looks it up on the target when the caller did not see one.
 */
export interface KillParams { target: string, pid?: number, ref?: string, startTime?: number, signal?: SignalName, tree?: boolean, graceMs?: number }
/** escalated: the grace period ran out and KILL was sent */
export interface KillResult { peerId: string, name: string, pid: number, signal: string, result: 'signalled' | 'exited' | 'gone', signalled: number[], escalated: boolean }

/** `logs`: streams `{ stream, data }` chunks as notifications; returns how the process ended. managedId: id, name or pid. */
export interface LogsParams { target: string, managedId: string, follow?: boolean }

/** `ls`: one entry per target, like ps. */
export interface LsParams { target: string }
export type LsEntry =
  | { peerId: string, name: string, processes: ManagedProcess[] }
  | { peerId: string, name: string, error: PeerError }

/** `restart` / `rm`: one target, ref = managed id, name or pid. */
export interface RestartParams { target: string, ref: string }
export interface RestartResultEntry { peerId: string, name: string, managedId: string, pid: number, startTime: number }
export interface RmParams { target: string, ref: string }
export interface RmResult { peerId: string, name: string, managedId: string, managedName: string | null, stopped: boolean }
export interface LogsResult { peerId: string, name: string, exited: boolean, exitCode: number | null, signal: string | null, truncated: boolean }

/** `history`: one entry per target; the fields of the history protocol's request (`since`, or a range). */
export type HistoryParams = { target: string } & Omit<HistoryRequest, 'type'>
export type HistoryEntry =
  | { peerId: string, name: string, history: HistoryResult }
  | { peerId: string, name: string, error: PeerError }

/** `logs` notifications. */
export type { LogChunk }

/** `audit`: one entry per target. */
export interface AuditParams { target: string, limit?: number }
export type AuditTargetEntry =
  | { peerId: string, name: string, entries: AuditEntry[] }
  | { peerId: string, name: string, error: PeerError }

/** `trust.list`: this node's trust file, without secrets. */
export interface TrustListEntry {
  peerId: string
  name: string | null
  role: TrustRole
  source: string
  addedAt: number
}
export interface TrustListResult {
  peers: TrustListEntry[]
  /** outstanding grants of this node's invites (no secrets) */
  invites: Array<{ id: string, role: Role, expiresAt: number }>
  /** grants this node still has to claim (no secrets) */
  claims: Array<{ admin: string, role: Role, expiresAt: number }>
}

/** `trust.add` and `trust.remove`: PEER is a peer id or a node name. */
/** `dryRun`: only say which peer PEER is (names come from gossip: the CLI confirms the full id first) */
export interface TrustAddParams { peer: string, role: TrustRole, dryRun?: boolean }
export interface TrustAddResult { peerId: string, name: string | null, role: TrustRole }
export interface TrustRemoveParams { peer: string, dryRun?: boolean }
/** `removed` is null only for a dry run on a peer without an entry */
export interface TrustRemoveResult { peerId: string, name: string | null, removed: TrustRole | null }

/** `invite`: a join token; `role` grants the joining node that role here (single use). */
export interface InviteParams { role?: Role }
export interface InviteResult {
  token: string
  peerId: string
  name: string
  role: Role | null
  /** when the grant in the token expires (null without a role) */
  expiresAt: number | null
}
