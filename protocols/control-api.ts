/**
 * The contract of the local control API, one descriptor per method (as protocols/wire.ts
 * gives each mesh protocol one): the method name, a validator of the params the node
 * accepts, a validator of the result (and of the notifications of a streaming call)
 * that every client applies, and how long a client waits by default. The node
 * registers its handlers against these (node/control/control-server.ts `handle`) and
 * the CLI, the TUI and the web server all call through cli/control-client.ts, so a
 * field or a rule changes here once.
 */
import { validateAuditEntry } from './audit.js'
import { MAX_ROTATE_MEMBERS, MESH_FINGERPRINT_PATTERN, ROTATE_HANDOVER_TIMEOUT_MS, type RotateKeyParams, type RotateKeyResultLocal } from './rotate-key.js'
import { MANAGED_REF_PATTERN, MAX_MANAGED_LIST, validateManagedName, validateManagedProcess, validateRestartPolicy } from './managed.js'
import {
  CONTROL_METHODS, parsePeersParams, type AuditParams, type AuditTargetEntry, type HistoryEntry, type HistoryParams,
  type InviteParams, type InviteResult, type KillParams, type KillResult, type LogsParams, type LogsResult,
  type LsEntry, type LsParams, type PeerError, type PeersParams, type PsEntry, type PsParams, type RestartParams, type RestartResultEntry,
  type RmParams, type RmResult, type RunEntry, type RunParams, type RunResult, type TrustAddParams,
  type TrustAddResult, type TrustListResult, type TrustRemoveParams, type TrustRemoveResult
} from './control.js'
import {
  validateDeployName, validateDeployParams, validateDeployResult, validateDeploymentStatus,
  type DeployParams, type DeployResult, type DeploymentStatus
} from './deploy.js'
import { InvalidFieldError, isErrorCode, toProcmeshError } from './errors.js'
import { MAX_ADDR_BYTES, MAX_NAME_BYTES, MAX_STORED_SPECS, MAX_TAG_BYTES, MAX_TAGS } from './limits.js'
import {
  HISTORY, LOGS, MANAGED_ID_PATTERN, REMOVE, RESTART, MAX_AUDIT_ENTRIES, MAX_FILTER_BYTES, MAX_LIST_PROCESSES, MAX_PATH_BYTES,
  REQUEST_ID_PATTERN, SIGNALS, START, STOP, validateArgv, validateEnv, validateHistoryRequest, validateListTop, validateLogChunk, validateProcess, type LogChunk
} from './messages.js'
import { validateHost, validateTop } from './summary.js'
import { PEER_REACH, type IdInfo, type PeerEntry } from './types.js'
import {
  expectArray, expectBoolean, expectInt, expectNumber, expectOneOf, expectRecord, expectString, expectStringMap, optional
} from './validate.js'
import { ROLES, TRUST_ROLES } from './wire.js'

export interface ControlMethod<Params, Result, Note = never> {
  name: string
  /** the node's check of what a client sent; throws an InvalidFieldError naming the field */
  validateParams: (value: unknown) => Params
  /** every client's check of the answer; the client reports a failure as PROTOCOL_ERROR */
  validateResult: (value: unknown) => Result
  /** the check of each notification a streaming call sends before its result */
  validateNotification?: (value: unknown) => Note
  /** how long a client waits for the answer unless it says otherwise; undefined: until it ends */
  timeoutMs: (params: Params) => number | undefined
}


/** A TARGET names a node, a peer id (prefix), `tag:K=V`, `all` or `self` (the default). */
export const MAX_TARGET_BYTES = 256
/** Bytes of a PEER of `trust add/remove` (a peer id or a node name). */
export const MAX_PEER_TEXT_BYTES = 256

/** Answered from memory: a node that takes longer than this is in trouble. */
export const LOCAL_ANSWER_TIMEOUT_MS = 5000
/**
 * A mesh-wide query (ps, history, audit) waits this long. Longer than the node's own
 * per-peer fan-out timeout (10 s), so a slow peer is reported by name as a TIMEOUT
 * entry instead of silently missing because the client gave up at the same moment.
 */
export const FAN_OUT_ANSWER_TIMEOUT_MS = 15_000
/** The longest per-host wait a client may ask of a fan-out (`ps --timeout`). */
export const MAX_HOST_TIMEOUT_MS = 10 * 60 * 1000
/** A start is forwarded once and retried once with the same request id. */
export const RUN_TIMEOUT_MS = 30_000
/** A stop may wait its grace period before KILL; this is on top of it. */
export const KILL_TIMEOUT_MARGIN_MS = 30_000

const MAX_TARGET_ENTRIES = 4096
const MAX_ERROR_MESSAGE_BYTES = 4096

const local = (): number => LOCAL_ANSWER_TIMEOUT_MS
const fanOut = (): number => FAN_OUT_ANSWER_TIMEOUT_MS

function paramsRecord (value: unknown): Record<string, unknown> {
  return expectRecord(value ?? {}, 'params')
}

function noParams (value: unknown): undefined {
  paramsRecord(value)
  return undefined
}

function target (r: Record<string, unknown>): string {
  return optional(r.target, v => expectString(v, 'target', { maxBytes: MAX_TARGET_BYTES })) ?? 'self'
}

function peerText (r: Record<string, unknown>): string {
  return expectString(r.peer, 'peer', { maxBytes: MAX_PEER_TEXT_BYTES, minLength: 1 })
}

/** A list with one entry per target peer. */
function targetList<T> (value: unknown, entry: (v: unknown, path: string) => T): T[] {
  return expectArray(value, 'result', MAX_TARGET_ENTRIES).map((v, i) => entry(v, `result[${i}]`))
}

/** The `error` of a per-target entry: an unknown code reads as PROTOCOL_ERROR, never as success. */
function peerError (value: unknown, path: string): PeerError {
  const e = expectRecord(value, path)
  return {
    code: isErrorCode(e.code) ? e.code : 'PROTOCOL_ERROR',
    message: typeof e.message === 'string' ? e.message.slice(0, MAX_ERROR_MESSAGE_BYTES) : 'no message'
  }
}

/**
 * One per-target entry: `{ peerId, name, error }` or `{ peerId, name, ...body }`. A body
 * that fails validation while the entry still names its peer becomes that peer's
 * PROTOCOL_ERROR (one broken peer must not hide the others); an entry that names no
 * peer throws.
 */
export function targetEntry<T extends object> (value: unknown, path: string, body: (r: Record<string, unknown>, path: string) => T): ({ peerId: string, name: string } & T) | { peerId: string, name: string, error: PeerError } {
  const r = expectRecord(value, path)
  const peerId = expectString(r.peerId, `${path}.peerId`, { minLength: 1, maxBytes: 128 })
  const name = expectString(r.name, `${path}.name`, { maxBytes: MAX_NAME_BYTES * 2 })
  if (r.error !== undefined) return { peerId, name, error: peerError(r.error, `${path}.error`) }
  try {
    return { peerId, name, ...body(r, path) }
  } catch (err: unknown) {
    return { peerId, name, error: { code: 'PROTOCOL_ERROR', message: `bad answer: ${toProcmeshError(err).message}` } }
  }
}

/** The target a single-target answer (run, kill, logs) names; the rest is the mesh protocol's result. */
function targetOfResult (value: unknown): { peerId: string, name: string } {
  const r = expectRecord(value, 'result')
  return {
    peerId: expectString(r.peerId, 'result.peerId', { minLength: 1, maxBytes: 128 }),
    name: expectString(r.name, 'result.name', { maxBytes: MAX_NAME_BYTES * 2 })
  }
}

export function validatePsEntry (value: unknown, path = 'entry'): PsEntry {
  return targetEntry(value, path, (r, p) => {
    const total = optional(r.total, v => expectInt(v, `${p}.total`, { min: 0 }))
    return {
      collectedAt: expectNumber(r.collectedAt, `${p}.collectedAt`, { min: 0 }),
      processes: expectArray(r.processes, `${p}.processes`, MAX_LIST_PROCESSES).map((x, i) => validateProcess(x, `${p}.processes[${i}]`)),
      ...(total !== undefined ? { total } : {})
    }
  })
}

export function validateHistoryEntry (value: unknown, path = 'entry'): HistoryEntry {
  return targetEntry(value, path, r => ({ history: HISTORY.validateResult(r.history) }))
}

export function validateAuditTargetEntry (value: unknown, path = 'entry'): AuditTargetEntry {
  return targetEntry(value, path, (r, p) => ({
    entries: expectArray(r.entries, `${p}.entries`, MAX_AUDIT_ENTRIES).map((x, j) => validateAuditEntry(x, `${p}.entries[${j}]`))
  }))
}

function validateGossipStats (value: unknown, path: string): NonNullable<PeerEntry['gossip']> {
  const g = expectRecord(value, path)
  const count = (field: string): number => expectInt(g[field], `${path}.${field}`, { min: 0 })
  return { full: count('full'), delta: count('delta'), alive: count('alive'), pulls: count('pulls'), pullFailures: count('pullFailures') }
}

export function validatePeerEntry (value: unknown, path: string): PeerEntry {
  const r = expectRecord(value, path)
  const intervalMs = optional(r.intervalMs, v => expectInt(v, `${path}.intervalMs`, { min: 0 }))
  const liveAt = optional(r.liveAt, v => expectNumber(v, `${path}.liveAt`, { min: 0 }))
  const gossip = optional(r.gossip, v => validateGossipStats(v, `${path}.gossip`))
  const reach = optional(r.reach, v => expectOneOf(v, `${path}.reach`, PEER_REACH))
  return {
    peerId: expectString(r.peerId, `${path}.peerId`, { minLength: 1, maxBytes: 128 }),
    name: expectString(r.name, `${path}.name`, { maxBytes: MAX_NAME_BYTES * 2 }),
    status: expectOneOf(r.status, `${path}.status`, ['online', 'stale', 'offline'] as const),
    lastSeen: expectNumber(r.lastSeen, `${path}.lastSeen`, { min: 0 }),
    tags: expectStringMap(r.tags, `${path}.tags`, MAX_TAGS, MAX_TAG_BYTES),
    addrs: expectArray(r.addrs, `${path}.addrs`, 256).map((a, i) => expectString(a, `${path}.addrs[${i}]`, { maxBytes: MAX_ADDR_BYTES })),
    self: expectBoolean(r.self, `${path}.self`),
    host: validateHost(r.host, `${path}.host`),
    procCount: expectInt(r.procCount, `${path}.procCount`, { min: 0 }),
    version: expectString(r.version, `${path}.version`, { maxBytes: 32 }),
    topCpu: validateTop(r.topCpu, `${path}.topCpu`),
    topMem: validateTop(r.topMem, `${path}.topMem`),
    ...(intervalMs !== undefined ? { intervalMs } : {}),
    ...(liveAt !== undefined ? { liveAt } : {}),
    ...(gossip !== undefined ? { gossip } : {}),
    ...(reach !== undefined ? { reach } : {})
  }
}

function validateTrustList (value: unknown): TrustListResult {
  const r = expectRecord(value, 'result')
  const list = <T>(field: string, item: (x: Record<string, unknown>, path: string) => T): T[] =>
    expectArray(r[field], `result.${field}`, MAX_TARGET_ENTRIES).map((v, i) => item(expectRecord(v, `result.${field}[${i}]`), `result.${field}[${i}]`))
  return {
    peers: list('peers', (p, path) => ({
      peerId: expectString(p.peerId, `${path}.peerId`, { maxBytes: 128 }),
      name: p.name === null ? null : expectString(p.name, `${path}.name`, { maxBytes: 256 }),
      role: expectOneOf(p.role, `${path}.role`, TRUST_ROLES),
      source: expectString(p.source, `${path}.source`, { maxBytes: 16 }),
      addedAt: expectNumber(p.addedAt, `${path}.addedAt`, { min: 0 })
    })),
    invites: list('invites', (x, path) => ({ id: expectString(x.id, `${path}.id`, { maxBytes: 64 }), role: expectOneOf(x.role, `${path}.role`, ROLES), expiresAt: expectNumber(x.expiresAt, `${path}.expiresAt`) })),
    claims: list('claims', (x, path) => ({ admin: expectString(x.admin, `${path}.admin`, { maxBytes: 128 }), role: expectOneOf(x.role, `${path}.role`, ROLES), expiresAt: expectNumber(x.expiresAt, `${path}.expiresAt`) }))
  }
}

function trustChange (value: unknown): { peerId: string, name: string | null, r: Record<string, unknown> } {
  const r = expectRecord(value, 'result')
  return {
    peerId: expectString(r.peerId, 'result.peerId', { maxBytes: 128 }),
    name: r.name === null ? null : expectString(r.name, 'result.name', { maxBytes: 256 }),
    r
  }
}

const id: ControlMethod<undefined, IdInfo> = {
  name: CONTROL_METHODS.id,
  validateParams: noParams,
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return {
      peerId: expectString(r.peerId, 'result.peerId', { minLength: 1, maxBytes: 128 }),
      name: expectString(r.name, 'result.name', { maxBytes: MAX_NAME_BYTES * 2 }),
      addrs: expectArray(r.addrs, 'result.addrs', 256).map((a, i) => expectString(a, `result.addrs[${i}]`, { maxBytes: MAX_ADDR_BYTES }))
    }
  },
  timeoutMs: local
}

/** `live` asks the node to pull the newest figures of the hosts a viewer shows. */
const peers: ControlMethod<PeersParams, PeerEntry[]> = {
  name: CONTROL_METHODS.peers,
  validateParams: parsePeersParams,
  validateResult: value => targetList(value, validatePeerEntry),
  timeoutMs: local
}

/** Streams one PsEntry per target as it answers; see PsParams for `streamed`. */
const ps: ControlMethod<PsParams, PsEntry[], PsEntry> = {
  name: CONTROL_METHODS.ps,
  validateParams (value) {
    const r = paramsRecord(value)
    const filter = optional(r.filter, v => expectString(v, 'filter', { maxBytes: MAX_FILTER_BYTES }))
    const streamed = optional(r.streamed, v => expectBoolean(v, 'streamed'))
    const top = optional(r.top, v => validateListTop(v, 'top'))
    const hostTimeoutMs = optional(r.hostTimeoutMs, v => expectInt(v, 'hostTimeoutMs', { min: 1, max: MAX_HOST_TIMEOUT_MS }))
    return {
      target: target(r),
      ...(filter !== undefined ? { filter } : {}),
      ...(streamed !== undefined ? { streamed } : {}),
      ...(top !== undefined ? { top } : {}),
      ...(hostTimeoutMs !== undefined ? { hostTimeoutMs } : {})
    }
  },
  validateResult: value => targetList(value, validatePsEntry),
  validateNotification: value => validatePsEntry(value),
  timeoutMs: fanOut
}

const history: ControlMethod<HistoryParams, HistoryEntry[], HistoryEntry> = {
  name: CONTROL_METHODS.history,
  validateParams (value) {
    const r = paramsRecord(value)
    // the history protocol's request fields, checked together (a range needs from < to ...)
    const { type: _type, ...fields } = validateHistoryRequest({ ...r, target: undefined, type: 'history' })
    return { target: target(r), ...fields }
  },
  validateResult: value => targetList(value, validateHistoryEntry),
  validateNotification: value => validateHistoryEntry(value),
  timeoutMs: fanOut
}

/** One host's answer to a group `run`: its RunResult or its error. */
export function validateRunEntry (value: unknown, path = 'entry'): RunEntry {
  return targetEntry(value, path, r => START.validateResult(r))
}

/** `run` on one host answers its RunResult; on a group (`all`, `tag:`) one RunEntry per host, streamed as they come. */
const run: ControlMethod<RunParams, RunResult | RunEntry[], RunEntry> = {
  name: CONTROL_METHODS.run,
  validateParams (value) {
    const r = paramsRecord(value)
    const cwd = optional(r.cwd, v => expectString(v, 'cwd', { maxBytes: MAX_PATH_BYTES, minLength: 1, noNul: true }))
    const env = optional(r.env, validateEnv)
    const requestId = optional(r.requestId, v => expectString(v, 'requestId', { pattern: REQUEST_ID_PATTERN }))
    const name = optional(r.name, v => validateManagedName(v, 'name'))
    const policy = optional(r.policy, v => validateRestartPolicy(v, 'policy'))
    return {
      target: target(r),
      argv: validateArgv(r.argv),
      ...(name !== undefined ? { name } : {}),
      ...(policy !== undefined ? { policy } : {}),
      ...(cwd !== undefined ? { cwd } : {}),
      ...(env !== undefined ? { env } : {}),
      ...(requestId !== undefined ? { requestId } : {})
    }
  },
  validateResult: value => Array.isArray(value)
    ? expectArray(value, 'result', MAX_TARGET_ENTRIES).map((e, i) => validateRunEntry(e, `result[${i}]`))
    : { ...targetOfResult(value), ...START.validateResult(value) },
  validateNotification: value => validateRunEntry(value),
  timeoutMs: () => RUN_TIMEOUT_MS
}

const kill: ControlMethod<KillParams, KillResult> = {
  name: CONTROL_METHODS.kill,
  validateParams (value) {
    const r = paramsRecord(value)
    const startTime = optional(r.startTime, v => expectNumber(v, 'startTime', { min: 0 }))
    const tree = optional(r.tree, v => expectBoolean(v, 'tree'))
    const graceMs = optional(r.graceMs, v => expectInt(v, 'graceMs', { min: 0 }))
    // a pid, or a managed process's name or id (resolved on the target to its running pid)
    const ref = optional(r.ref, v => expectString(v, 'ref', { pattern: MANAGED_REF_PATTERN }))
    if ((ref === undefined) === (r.pid === undefined)) throw new InvalidFieldError('pid', 'give a pid or a ref (a managed process\'s name or id), not both or neither')
    return {
      target: target(r),
      ...(ref !== undefined ? { ref } : { pid: expectInt(r.pid, 'pid') }),
      signal: expectOneOf(r.signal ?? 'TERM', 'signal', SIGNALS),
      ...(startTime !== undefined ? { startTime } : {}),
      ...(tree !== undefined ? { tree } : {}),
      ...(graceMs !== undefined ? { graceMs } : {})
    }
  },
  // older nodes do not say whether a grace period ran out: they never escalate silently, so false
  validateResult: value => { const r = STOP.validateResult(value); return { ...targetOfResult(value), ...r, escalated: r.escalated ?? false } },
  timeoutMs: p => (p.graceMs ?? 0) + KILL_TIMEOUT_MARGIN_MS
}

/** Streams LogChunks; a follow lasts until the process exits or the client leaves, so no default timeout. */
const logs: ControlMethod<LogsParams, LogsResult, LogChunk> = {
  name: CONTROL_METHODS.logs,
  validateParams (value) {
    const r = paramsRecord(value)
    return {
      target: target(r),
      managedId: expectString(r.managedId, 'managedId', { pattern: MANAGED_ID_PATTERN }),
      follow: optional(r.follow, v => expectBoolean(v, 'follow')) ?? false
    }
  },
  validateResult: value => ({ ...targetOfResult(value), ...LOGS.validateResult(value) }),
  validateNotification: validateLogChunk,
  timeoutMs: () => undefined
}

const audit: ControlMethod<AuditParams, AuditTargetEntry[], AuditTargetEntry> = {
  name: CONTROL_METHODS.audit,
  validateParams (value) {
    const r = paramsRecord(value)
    const limit = optional(r.limit, v => expectInt(v, 'limit', { min: 1, max: MAX_AUDIT_ENTRIES }))
    return { target: target(r), ...(limit !== undefined ? { limit } : {}) }
  },
  validateResult: value => targetList(value, validateAuditTargetEntry),
  validateNotification: value => validateAuditTargetEntry(value),
  timeoutMs: fanOut
}

const trustList: ControlMethod<undefined, TrustListResult> = {
  name: CONTROL_METHODS.trustList,
  validateParams: noParams,
  validateResult: validateTrustList,
  timeoutMs: local
}

const trustAdd: ControlMethod<TrustAddParams, TrustAddResult> = {
  name: CONTROL_METHODS.trustAdd,
  validateParams (value) {
    const r = paramsRecord(value)
    const dryRun = optional(r.dryRun, v => expectBoolean(v, 'dryRun'))
    return { role: expectOneOf(r.role, 'role', TRUST_ROLES), peer: peerText(r), ...(dryRun !== undefined ? { dryRun } : {}) }
  },
  validateResult (value) {
    const { peerId, name, r } = trustChange(value)
    return { peerId, name, role: expectOneOf(r.role, 'result.role', TRUST_ROLES) }
  },
  timeoutMs: local
}

const trustRemove: ControlMethod<TrustRemoveParams, TrustRemoveResult> = {
  name: CONTROL_METHODS.trustRemove,
  validateParams (value) {
    const r = paramsRecord(value)
    const dryRun = optional(r.dryRun, v => expectBoolean(v, 'dryRun'))
    return { peer: peerText(r), ...(dryRun !== undefined ? { dryRun } : {}) }
  },
  validateResult (value) {
    const { peerId, name, r } = trustChange(value)
    return { peerId, name, removed: r.removed === null ? null : expectOneOf(r.removed, 'result.removed', TRUST_ROLES) }
  },
  timeoutMs: local
}

const invite: ControlMethod<InviteParams, InviteResult> = {
  name: CONTROL_METHODS.invite,
  validateParams (value) {
    const role = optional(paramsRecord(value).role, v => expectOneOf(v, 'role', ROLES))
    return role !== undefined ? { role } : {}
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return {
      token: expectString(r.token, 'result.token', { maxBytes: 4096 }),
      peerId: expectString(r.peerId, 'result.peerId', { maxBytes: 128 }),
      name: expectString(r.name, 'result.name', { maxBytes: 256 }),
      role: r.role === null ? null : expectOneOf(r.role, 'result.role', ROLES),
      expiresAt: r.expiresAt === null ? null : expectInt(r.expiresAt, 'result.expiresAt', { min: 0 })
    }
  },
  timeoutMs: local
}

/** Every method of the local control API, by the names of CONTROL_METHODS. */
/** `ls`: the managed processes of each target, like ps. */
export function validateLsEntry (value: unknown, path = 'entry'): LsEntry {
  return targetEntry(value, path, (r, p) => ({
    processes: expectArray(r.processes, `${p}.processes`, MAX_MANAGED_LIST).map((x, i) => validateManagedProcess(x, `${p}.processes[${i}]`))
  }))
}

const ls: ControlMethod<LsParams, LsEntry[], LsEntry> = {
  name: CONTROL_METHODS.ls,
  validateParams: value => ({ target: target(paramsRecord(value)) }),
  validateResult: value => targetList(value, validateLsEntry),
  validateNotification: value => validateLsEntry(value),
  timeoutMs: fanOut
}

/** restart and rm name one managed process on one target: its id, name or pid */
function refParams (value: unknown): { target: string, ref: string } {
  const r = paramsRecord(value)
  return { target: target(r), ref: expectString(r.ref, 'ref', { pattern: MANAGED_REF_PATTERN }) }
}

/** `restart`: a managed process on one target by id, name or pid; answers the new pid (the mesh protocol's result). */
const restart: ControlMethod<RestartParams, RestartResultEntry> = {
  name: CONTROL_METHODS.restart,
  validateParams: refParams,
  validateResult: value => ({ ...targetOfResult(value), ...RESTART.validateResult(value) }),
  // a running process is stopped first (TERM, KILL after 5 s), then started again
  timeoutMs: () => RUN_TIMEOUT_MS
}

/** `rm`: forget a managed process on one target (stopped first when it runs); the protocol's `name` is `managedName` here. */
const rm: ControlMethod<RmParams, RmResult> = {
  name: CONTROL_METHODS.rm,
  validateParams: refParams,
  validateResult (value) {
    const r = expectRecord(value, 'result')
    const removed = REMOVE.validateResult({ ...r, name: r.managedName })
    return { ...targetOfResult(value), managedId: removed.managedId, managedName: removed.name, stopped: removed.stopped }
  },
  timeoutMs: () => RUN_TIMEOUT_MS
}

// ---- deployments (protocols/deploy.ts) ----
const deploy: ControlMethod<DeployParams, DeployResult> = {
  name: CONTROL_METHODS.deploy,
  validateParams: validateDeployParams,
  validateResult: validateDeployResult,
  timeoutMs: local
}

const deployments: ControlMethod<{ name?: string }, DeploymentStatus[]> = {
  name: CONTROL_METHODS.deployments,
  validateParams (value) {
    const r = paramsRecord(value)
    return r.name !== undefined ? { name: validateDeployName(r.name) } : {}
  },
  validateResult: value => expectArray(value, 'result', MAX_STORED_SPECS).map((d, i) => validateDeploymentStatus(d, `result[${i}]`)),
  timeoutMs: local
}

const undeploy: ControlMethod<{ name: string }, DeployResult> = {
  name: CONTROL_METHODS.undeploy,
  validateParams: value => ({ name: validateDeployName(paramsRecord(value).name) }),
  validateResult: validateDeployResult,
  timeoutMs: local
}

/** `rotate-key` (protocols/rotate-key.ts): the members to keep; each one's outcome. */
const rotateKey: ControlMethod<RotateKeyParams, RotateKeyResultLocal, never> = {
  name: CONTROL_METHODS.rotateKey,
  validateParams (value) {
    const r = expectRecord(value, 'params')
    return { members: expectArray(r.members, 'params.members', MAX_ROTATE_MEMBERS).map((m, i) => expectString(m, `params.members[${i}]`, { minLength: 1, maxBytes: MAX_PEER_TEXT_BYTES })) }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return {
      mesh: expectString(r.mesh, 'result.mesh', { pattern: MESH_FINGERPRINT_PATTERN }),
      switchInMs: expectInt(r.switchInMs, 'result.switchInMs', { min: 0, max: 60_000 }),
      members: expectArray(r.members, 'result.members', MAX_ROTATE_MEMBERS).map((v, i) => targetEntry(v, `result.members[${i}]`, (m, path) => ({
        mesh: expectString(m.mesh, `${path}.mesh`, { pattern: MESH_FINGERPRINT_PATTERN })
      })))
    }
  },
  // each member is asked at once, with its own timeout
  timeoutMs: () => ROTATE_HANDOVER_TIMEOUT_MS + 5000
}

export const CONTROL_API = {
  id,
  peers,
  ps,
  history,
  run,
  kill,
  logs,
  audit,
  trustList,
  trustAdd,
  trustRemove,
  invite,
  ls,
  restart,
  rm,
  deploy,
  deployments,
  undeploy,
  rotateKey
} as const
