/**
 * The mesh protocols: each message, its limits and its validation, defined once.
 * Requests are validated on the server; results are validated on the client.
 */
import { InvalidFieldError } from './errors.js'
import {
  AUDIT_PROTOCOL, HISTORY_PROTOCOL, LIST_PROTOCOL, LOGS_FOLLOW_PROTOCOL, LOGS_PROTOCOL, MANAGED_PROTOCOL, REMOVE_PROTOCOL, RESTART_PROTOCOL, START_PROTOCOL, STOP_PROTOCOL, SUMMARY_PROTOCOL
} from './ids.js'
import {
  MAX_MANAGED_LIST, validateManagedName, validateManagedProcess, validateManagedRef, validateRestartPolicy,
  type ManagedProcess, type RestartPolicy
} from './managed.js'
import { validateAuditEntry, type AuditEntry } from './audit.js'
import { CLAIM_SECRET_PATTERN } from './token.js'
import { MAX_FOLLOWS_PER_CONNECTION, MAX_SUMMARY_BYTES } from './limits.js'
import { SIGNALS, type SignalName } from './signals.js'
import { validateSummary } from './summary.js'
import { ALERT_LEVELS } from './thresholds.js'
import type { ProcessInfo, Summary } from './types.js'
import {
  expectArray, expectBoolean, expectInt, expectNumber, expectOneOf, expectRecord, expectString, isOneOf, optional
} from './validate.js'
import { expectType, type ProtocolDescriptor } from './wire.js'

// ---- limits of the messages ----
/** Linux's default threads-max is in the millions; no process has more than this */
const MAX_PROCESS_THREADS = 4_194_304
/** argv entries: generous for real commands, small enough to refuse abuse by count */
export const MAX_ARGS = 1024
/** one argument: longer ones are refused with the index of the argument */
export const MAX_ARG_BYTES = 64 * 1024
/** all of argv together (Linux's own limit is ~2 MiB; we stay well under) */
export const MAX_ARGV_BYTES = 512 * 1024
export const MAX_ENV_ENTRIES = 256
export const MAX_ENV_BYTES = 32 * 1024
export const MAX_PATH_BYTES = 4096
export const MAX_FILTER_BYTES = 256
/** a start's request id: clients make one per logical start, retries reuse it */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/
export const MANAGED_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/
/** the longest grace period a stop may ask for */
export const MAX_GRACE_MS = 10 * 60 * 1000
/** processes a list result may carry: 10,000-process hosts must fit, with margin */
export const MAX_LIST_PROCESSES = 65536

/**
 * Environment variables a remote peer may never set: they change what the dynamic
 * loader or a runtime loads into the new process, i.e. run code other than argv.
 */
export const FORBIDDEN_ENV = [
  'LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'NODE_OPTIONS', 'DYLD_INSERT_LIBRARIES',
  'DYLD_LIBRARY_PATH', 'PYTHONSTARTUP', 'PERL5OPT', 'BASH_ENV', 'ENV'
] as const

export { SIGNALS, signalFromText, type SignalName } from './signals.js'

// ---- list ----
/**
 * Only the first `n` processes by CPU or memory: a viewer of many hosts at once (the TUI's
 * mesh-wide mode) shows a screenful, so it asks each host for that many rather than for all.
 */
export interface ListTop { by: 'cpu' | 'mem', n: number }
export const LIST_TOP_KEYS = ['cpu', 'mem'] as const
export interface ListRequest { type: 'list', filter?: string, top?: ListTop }
/** `total`: processes that matched before `top` cut the list */
export interface ListResult { collectedAt: number, processes: ProcessInfo[], total?: number }

export function validateListTop (value: unknown, path: string): ListTop {
  const t = expectRecord(value, path)
  return { by: expectOneOf(t.by, `${path}.by`, LIST_TOP_KEYS), n: expectInt(t.n, `${path}.n`, { min: 1, max: MAX_LIST_PROCESSES }) }
}

export function validateProcess (value: unknown, path: string): ProcessInfo {
  const p = expectRecord(value, path)
  const info: ProcessInfo = {
    pid: expectInt(p.pid, `${path}.pid`, { min: 0 }),
    ppid: expectInt(p.ppid, `${path}.ppid`, { min: 0 }),
    uid: expectInt(p.uid, `${path}.uid`, { min: -1 }),
    user: expectString(p.user, `${path}.user`, { maxBytes: 256 }),
    name: expectString(p.name, `${path}.name`, { maxBytes: 256 }),
    cmd: expectString(p.cmd, `${path}.cmd`, { maxBytes: MAX_ARGV_BYTES }),
    state: expectString(p.state, `${path}.state`, { maxBytes: 8 }),
    cpuPercent: expectNumber(p.cpuPercent, `${path}.cpuPercent`, { min: 0 }),
    rss: expectNumber(p.rss, `${path}.rss`, { min: 0 }),
    startTime: expectNumber(p.startTime, `${path}.startTime`, { min: 0 })
  }
  if (p.threads !== undefined) info.threads = expectInt(p.threads, `${path}.threads`, { min: 0, max: MAX_PROCESS_THREADS })
  if (p.nice !== undefined) info.nice = expectInt(p.nice, `${path}.nice`, { min: -20, max: 19 })
  // real-time tasks: -2 .. -100 (top shows -100 as "rt")
  if (p.priority !== undefined) info.priority = expectInt(p.priority, `${path}.priority`, { min: -100, max: 139 })
  if (p.cpuTime !== undefined) info.cpuTime = expectNumber(p.cpuTime, `${path}.cpuTime`, { min: 0 })
  if (p.alert !== undefined) info.alert = expectOneOf(p.alert, `${path}.alert`, ALERT_LEVELS)
  if (p.managedId !== undefined) info.managedId = expectString(p.managedId, `${path}.managedId`, { pattern: MANAGED_ID_PATTERN })
  if (p.startedBy !== undefined) info.startedBy = expectString(p.startedBy, `${path}.startedBy`, { maxBytes: 256 })
  if (p.managedName !== undefined) info.managedName = validateManagedName(p.managedName, `${path}.managedName`)
  return info
}

export const LIST: ProtocolDescriptor<ListRequest, ListResult> = {
  id: LIST_PROTOCOL,
  role: 'read',
  maxRequestBytes: 4096,
  // 10,000 processes at ~300 bytes each is 3 MB; leave room for long command lines
  maxResponseBytes: 32 * 1024 * 1024,
  readDeadlineMs: 5000,
  deadlineMs: 15_000,
  maxInboundStreams: 8,
  maxOutboundStreams: 16,
  validateRequest (value) {
    const r = expectRecord(value, 'request')
    expectType(r, 'list')
    const top = optional(r.top, v => validateListTop(v, 'top'))
    return { type: 'list', filter: optional(r.filter, v => expectString(v, 'filter', { maxBytes: MAX_FILTER_BYTES })), ...(top !== undefined ? { top } : {}) }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    const total = optional(r.total, v => expectInt(v, 'result.total', { min: 0 }))
    return {
      collectedAt: expectNumber(r.collectedAt, 'result.collectedAt', { min: 0 }),
      processes: expectArray(r.processes, 'result.processes', MAX_LIST_PROCESSES).map((p, i) => validateProcess(p, `result.processes[${i}]`)),
      ...(total !== undefined ? { total } : {})
    }
  }
}

// ---- start ----
/** name: unique on the target; policy: how the process is brought back (default: never) */
export interface StartRequest { type: 'start', requestId: string, argv: string[], cwd?: string, env?: Record<string, string>, name?: string, policy?: RestartPolicy }
export interface StartResult { managedId: string, pid: number, startTime: number }

export function validateArgv (value: unknown): string[] {
  const argv = expectArray(value, 'argv', MAX_ARGS)
  if (argv.length === 0) throw new InvalidFieldError('argv', 'must not be empty')
  let total = 0
  const out = argv.map((a, i) => {
    const s = expectString(a, `argv[${i}]`, { maxBytes: MAX_ARG_BYTES, noNul: true })
    total += Buffer.byteLength(s)
    return s
  })
  if (out[0] === '') throw new InvalidFieldError('argv[0]', 'must not be empty')
  if (total > MAX_ARGV_BYTES) throw new InvalidFieldError('argv', `longer than ${MAX_ARGV_BYTES} bytes in total`)
  return out
}

export function validateEnv (value: unknown): Record<string, string> {
  const rec = expectRecord(value, 'env')
  const keys = Object.keys(rec)
  if (keys.length > MAX_ENV_ENTRIES) throw new InvalidFieldError('env', `more than ${MAX_ENV_ENTRIES} entries`)
  const out: Record<string, string> = {}
  let total = 0
  for (const key of keys) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(key)) throw new InvalidFieldError(`env ${JSON.stringify(key.slice(0, 40))}`, 'not a valid variable name')
    if (isOneOf(key, FORBIDDEN_ENV) || key.startsWith('LD_') || key.startsWith('DYLD_')) {
      throw new InvalidFieldError(`env.${key}`, 'may not be set remotely (it changes what code the new process loads)')
    }
    out[key] = expectString(rec[key], `env.${key}`, { maxBytes: MAX_ENV_BYTES, noNul: true })
    total += key.length + Buffer.byteLength(out[key])
  }
  if (total > MAX_ENV_BYTES) throw new InvalidFieldError('env', `longer than ${MAX_ENV_BYTES} bytes in total`)
  return out
}

export const START: ProtocolDescriptor<StartRequest, StartResult> = {
  id: START_PROTOCOL,
  role: 'exec',
  // big enough that a too-long argument is refused by validation naming it, not by the frame cap
  maxRequestBytes: 2 * 1024 * 1024,
  maxResponseBytes: 4096,
  readDeadlineMs: 5000,
  deadlineMs: 10_000,
  maxInboundStreams: 4,
  maxOutboundStreams: 16,
  validateRequest (value) {
    const r = expectRecord(value, 'request')
    expectType(r, 'start')
    return {
      type: 'start',
      requestId: expectString(r.requestId, 'requestId', { pattern: REQUEST_ID_PATTERN }),
      argv: validateArgv(r.argv),
      cwd: optional(r.cwd, v => expectString(v, 'cwd', { maxBytes: MAX_PATH_BYTES, minLength: 1, noNul: true })),
      env: optional(r.env, validateEnv),
      ...(r.name !== undefined ? { name: validateManagedName(r.name) } : {}),
      ...(r.policy !== undefined ? { policy: validateRestartPolicy(r.policy) } : {})
    }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return {
      managedId: expectString(r.managedId, 'result.managedId', { pattern: MANAGED_ID_PATTERN }),
      pid: expectInt(r.pid, 'result.pid', { min: 1 }),
      startTime: expectNumber(r.startTime, 'result.startTime', { min: 0 })
    }
  }
}

// ---- stop ----
export interface StopRequest { type: 'stop', pid: number, startTime: number, signal: SignalName, tree: boolean, graceMs?: number }
export type StopOutcome = 'signalled' | 'exited' | 'gone'
/** escalated: a grace period ran out and the survivors were sent KILL (absent from older nodes) */
export interface StopResult { pid: number, signal: SignalName, result: StopOutcome, signalled: number[], escalated?: boolean }

export const STOP: ProtocolDescriptor<StopRequest, StopResult> = {
  id: STOP_PROTOCOL,
  role: 'control',
  maxRequestBytes: 4096,
  maxResponseBytes: 64 * 1024,
  readDeadlineMs: 5000,
  deadlineMs: MAX_GRACE_MS + 10_000,
  maxInboundStreams: 4,
  maxOutboundStreams: 16,
  validateRequest (value) {
    const r = expectRecord(value, 'request')
    expectType(r, 'stop')
    return {
      type: 'stop',
      // range only: pid <= 1, negatives, the node and its parent are refused by the handler with reasons
      pid: expectInt(r.pid, 'pid', { min: -(2 ** 31), max: 2 ** 31 }),
      startTime: expectNumber(r.startTime, 'startTime', { min: 0 }),
      signal: expectOneOf(r.signal, 'signal', SIGNALS),
      tree: optional(r.tree, v => expectBoolean(v, 'tree')) ?? false,
      graceMs: optional(r.graceMs, v => expectInt(v, 'graceMs', { min: 0, max: MAX_GRACE_MS }))
    }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return {
      pid: expectInt(r.pid, 'result.pid'),
      signal: expectOneOf(r.signal, 'result.signal', SIGNALS),
      result: expectOneOf(r.result, 'result.result', ['signalled', 'exited', 'gone'] as const),
      signalled: expectArray(r.signalled, 'result.signalled', 65536).map((p, i) => expectInt(p, `result.signalled[${i}]`)),
      ...(r.escalated !== undefined ? { escalated: expectBoolean(r.escalated, 'result.escalated') } : {})
    }
  }
}

// ---- logs ----
/** managedId: a managed id, or the name or current pid of a managed process (see managed.ts) */
export interface LogsRequest { type: 'logs', managedId: string, follow: boolean }
export interface LogChunk { stream: 'stdout' | 'stderr', data: string }
export interface LogsEnd { exited: boolean, exitCode: number | null, signal: string | null, truncated: boolean }

/** A logs exchange answers `more` frames carrying LogChunk, then an `ok` frame carrying LogsEnd. */
export const LOGS: ProtocolDescriptor<LogsRequest, LogsEnd> = {
  id: LOGS_PROTOCOL,
  role: 'read',
  maxRequestBytes: 4096,
  maxResponseBytes: 1024 * 1024,
  readDeadlineMs: 5000,
  deadlineMs: 15_000, // for the buffered part; a follow lasts until the process exits or the client goes
  maxInboundStreams: 8,
  maxOutboundStreams: 16,
  validateRequest (value) {
    const r = expectRecord(value, 'request')
    expectType(r, 'logs')
    return {
      type: 'logs',
      managedId: expectString(r.managedId, 'managedId', { pattern: MANAGED_ID_PATTERN }),
      follow: optional(r.follow, v => expectBoolean(v, 'follow')) ?? false
    }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return {
      exited: expectBoolean(r.exited, 'result.exited'),
      exitCode: r.exitCode === null ? null : expectInt(r.exitCode, 'result.exitCode'),
      signal: r.signal === null ? null : expectString(r.signal, 'result.signal', { maxBytes: 16 }),
      truncated: expectBoolean(r.truncated, 'result.truncated')
    }
  }
}

/**
 * `logs --follow` as its own protocol: the same exchange, but a follow holds its stream for as
 * long as the process runs, so it must not take one of the few LOGS streams that plain `logs`
 * (and every later follow) need. The request must ask for a follow.
 */
export const LOGS_FOLLOW: ProtocolDescriptor<LogsRequest, LogsEnd> = {
  ...LOGS,
  id: LOGS_FOLLOW_PROTOCOL,
  maxInboundStreams: MAX_FOLLOWS_PER_CONNECTION,
  maxOutboundStreams: MAX_FOLLOWS_PER_CONNECTION,
  validateRequest (value) {
    const req = LOGS.validateRequest(value)
    if (!req.follow) throw new InvalidFieldError('follow', `must be true on ${LOGS_FOLLOW_PROTOCOL} (plain logs go over ${LOGS_PROTOCOL})`)
    return req
  }
}

export function validateLogChunk (value: unknown): LogChunk {
  const r = expectRecord(value, 'chunk')
  return { stream: expectOneOf(r.stream, 'chunk.stream', ['stdout', 'stderr'] as const), data: expectString(r.data, 'chunk.data', { maxBytes: 512 * 1024 }) }
}

// ---- managed processes: list, restart, remove ----
export interface ManagedRequest { type: 'managed' }
export interface ManagedResult { processes: ManagedProcess[] }

export const MANAGED: ProtocolDescriptor<ManagedRequest, ManagedResult> = {
  id: MANAGED_PROTOCOL,
  role: 'read',
  maxRequestBytes: 1024,
  // MAX_KEPT (500) records of argv up to 512 KiB would not fit anything; records carry argv
  // clipped by the server (MAX_LISTED_ARGV_BYTES), so 500 x ~5 KiB is far under this
  maxResponseBytes: 16 * 1024 * 1024,
  readDeadlineMs: 5000,
  deadlineMs: 10_000,
  maxInboundStreams: 4,
  maxOutboundStreams: 16,
  validateRequest (value) {
    const r = expectRecord(value, 'request')
    expectType(r, 'managed')
    return { type: 'managed' }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return { processes: expectArray(r.processes, 'result.processes', MAX_MANAGED_LIST).map((p, i) => validateManagedProcess(p, `result.processes[${i}]`)) }
  }
}

/** restart: the process is stopped (TERM, then KILL after RESTART_GRACE_MS) and started again. */
export interface RestartRequest { type: 'restart', ref: string }
export interface RestartResult { managedId: string, pid: number, startTime: number }

export const RESTART: ProtocolDescriptor<RestartRequest, RestartResult> = {
  id: RESTART_PROTOCOL,
  // it starts a process (THREATS.md invariant 1), the same command that was allowed before
  role: 'exec',
  maxRequestBytes: 1024,
  maxResponseBytes: 4096,
  readDeadlineMs: 5000,
  deadlineMs: 30_000,
  maxInboundStreams: 4,
  maxOutboundStreams: 16,
  validateRequest (value) {
    const r = expectRecord(value, 'request')
    expectType(r, 'restart')
    return { type: 'restart', ref: validateManagedRef(r.ref) }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return {
      managedId: expectString(r.managedId, 'result.managedId', { pattern: MANAGED_ID_PATTERN }),
      pid: expectInt(r.pid, 'result.pid', { min: 1 }),
      startTime: expectNumber(r.startTime, 'result.startTime', { min: 0 })
    }
  }
}

/** remove: forget a record (stopping its process first when it runs) and delete its log files. */
export interface RemoveRequest { type: 'remove', ref: string }
export interface RemoveResult { managedId: string, name: string | null, stopped: boolean }

export const REMOVE: ProtocolDescriptor<RemoveRequest, RemoveResult> = {
  id: REMOVE_PROTOCOL,
  role: 'control',
  maxRequestBytes: 1024,
  maxResponseBytes: 4096,
  readDeadlineMs: 5000,
  deadlineMs: 30_000,
  maxInboundStreams: 4,
  maxOutboundStreams: 16,
  validateRequest (value) {
    const r = expectRecord(value, 'request')
    expectType(r, 'remove')
    return { type: 'remove', ref: validateManagedRef(r.ref) }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return {
      managedId: expectString(r.managedId, 'result.managedId', { pattern: MANAGED_ID_PATTERN }),
      name: r.name === null ? null : validateManagedName(r.name, 'result.name'),
      stopped: expectBoolean(r.stopped, 'result.stopped')
    }
  }
}

// ---- history ----
/**
 * Two shapes share one protocol id, compatibly: `since` alone (or nothing) asks for the
 * node's in-memory ring of recent samples (sparklines, live figures: unchanged since 1.0.0);
 * `from`/`to` ask for a time range of the durable history on disk, downsampled to `points`,
 * with the top processes over the range or at `at`, and optionally the process starts and
 * exits. A node that predates the range form ignores those fields and answers the ring:
 * its answer has no `range`, which is how a client tells.
 */
export interface HistoryRequest {
  type: 'history'
  since?: number
  from?: number
  to?: number
  /** points wanted in the host series (default HISTORY_DEFAULT_POINTS) */
  points?: number
  /** the top processes at this time rather than over the range */
  at?: number
  /** top processes wanted (default HISTORY_DEFAULT_TOP; 0 for none) */
  top?: number
  /** include process starts and exits */
  events?: boolean
  /** only processes whose name, user or command contains this (case-insensitive) */
  filter?: string
  /**
   * one process (pid and start time together, so a reused pid is another process): the answer
   * carries its CPU and RSS series over the range, from the samples where it was among the top
   */
  pid?: number
  startTime?: number
}
/** A host sample, or the mean of the samples in a bucket (`cpuMax`: the highest sample in it). */
export interface HistoryPoint { at: number, cpuPercent: number, memUsed: number, load1: number, procCount: number, cpuMax?: number }
/**
 * A process among the top ones: at a time (its figures then) or over a range (`cpuPercent`
 * the mean over the range's samples counting 0 where it was not in the top, `cpuMax` and
 * `rss` the highest, `samples` how many samples it was in the top).
 */
export interface HistoryProcess { pid: number, startTime: number, name: string, user: string, cpuPercent: number, rss: number, cpuMax?: number, samples?: number }
export interface HistoryEvent {
  at: number
  kind: 'start' | 'exit'
  pid: number
  ppid: number
  startTime: number
  name: string
  cmd: string
  user: string
  /** exits: ms from start to exit (exit seen at the next sample, so up to one interval late) */
  lifetimeMs?: number
  /** managed processes: the supervisor's record */
  managedId?: string
  exitCode?: number | null
  signal?: string | null
}
export interface HistoryRange {
  from: number
  to: number
  /** width of one point; the interval itself when the range is short */
  bucketMs: number
  /** samples recorded in the range */
  samples: number
  /** the oldest record this node still keeps (null: none) */
  oldest: number | null
}
export interface HistoryResult {
  intervalMs: number
  memTotal: number
  points: HistoryPoint[]
  range?: HistoryRange
  top?: HistoryProcess[]
  /** with `at`: the sample nearest that time */
  atSample?: { at: number, processes: HistoryProcess[] }
  events?: HistoryEvent[]
  /** more events matched than HISTORY_MAX_EVENTS; the latest ones were kept */
  eventsTruncated?: boolean
  /** with `pid` and `startTime`: the process's series (one point per bucket it was in the top in) */
  process?: { pid: number, startTime: number, points: HistoryProcessPoint[] }
}
/** A process in one bucket of its series: mean CPU over the samples it was in the top, and its highest RSS. */
export interface HistoryProcessPoint { at: number, cpuPercent: number, rss: number }
/**
 * A process's series is read from raw samples (the minute rollups keep no per-process series),
 * so it covers at most RAW_MAX_RANGE_MS of node/host/history/query.ts: 4 h, ~7,200 samples.
 */
export const HISTORY_MAX_PROCESS_RANGE_MS = 4 * 60 * 60 * 1000
export const MAX_HISTORY_POINTS = 100_000
/** points of a range answer: a chart is a few hundred columns wide */
export const HISTORY_MAX_RANGE_POINTS = 2000
export const HISTORY_DEFAULT_POINTS = 500
export const HISTORY_MAX_TOP = 100
export const HISTORY_DEFAULT_TOP = 10
/** events of one answer: 2,000 x ~300 B (cmd capped at HISTORY_MAX_CMD_BYTES) stays well under 2 MiB */
export const HISTORY_MAX_EVENTS = 2000
export const HISTORY_MAX_CMD_BYTES = 512
/** the longest range asked at once (a year): far beyond any retention, refuses nonsense */
export const HISTORY_MAX_RANGE_MS = 366 * 24 * 60 * 60 * 1000

function validateHistoryProcess (v: unknown, path: string): HistoryProcess {
  const p = expectRecord(v, path)
  return {
    pid: expectInt(p.pid, `${path}.pid`, { min: 0 }),
    startTime: expectNumber(p.startTime, `${path}.startTime`, { min: 0 }),
    name: expectString(p.name, `${path}.name`, { maxBytes: 1024 }),
    user: expectString(p.user, `${path}.user`, { maxBytes: 256 }),
    cpuPercent: expectNumber(p.cpuPercent, `${path}.cpuPercent`, { min: 0 }),
    rss: expectNumber(p.rss, `${path}.rss`, { min: 0 }),
    ...(p.cpuMax !== undefined ? { cpuMax: expectNumber(p.cpuMax, `${path}.cpuMax`, { min: 0 }) } : {}),
    ...(p.samples !== undefined ? { samples: expectInt(p.samples, `${path}.samples`, { min: 0 }) } : {})
  }
}

function validateHistoryEvent (v: unknown, path: string): HistoryEvent {
  const e = expectRecord(v, path)
  return {
    at: expectNumber(e.at, `${path}.at`, { min: 0 }),
    kind: expectOneOf(e.kind, `${path}.kind`, ['start', 'exit'] as const),
    pid: expectInt(e.pid, `${path}.pid`, { min: 0 }),
    ppid: expectInt(e.ppid, `${path}.ppid`, { min: 0 }),
    startTime: expectNumber(e.startTime, `${path}.startTime`, { min: 0 }),
    name: expectString(e.name, `${path}.name`, { maxBytes: 1024 }),
    cmd: expectString(e.cmd, `${path}.cmd`, { maxBytes: HISTORY_MAX_CMD_BYTES * 4 }),
    user: expectString(e.user, `${path}.user`, { maxBytes: 256 }),
    ...(e.lifetimeMs !== undefined ? { lifetimeMs: expectNumber(e.lifetimeMs, `${path}.lifetimeMs`, { min: 0 }) } : {}),
    ...(e.managedId !== undefined ? { managedId: expectString(e.managedId, `${path}.managedId`, { maxBytes: 64 }) } : {}),
    ...(e.exitCode !== undefined ? { exitCode: e.exitCode === null ? null : expectInt(e.exitCode, `${path}.exitCode`) } : {}),
    ...(e.signal !== undefined ? { signal: e.signal === null ? null : expectString(e.signal, `${path}.signal`, { maxBytes: 16 }) } : {})
  }
}

/** Check a history request's fields together (also used by the control API). */
export function validateHistoryRequest (value: unknown): HistoryRequest {
  const r = expectRecord(value, 'request')
  expectType(r, 'history')
  const time = (v: unknown, name: string): number => expectNumber(v, name, { min: 0 })
  const req: HistoryRequest = { type: 'history', since: optional(r.since, v => time(v, 'since')) }
  const from = optional(r.from, v => time(v, 'from'))
  const to = optional(r.to, v => time(v, 'to'))
  if (from === undefined && to === undefined) {
    for (const key of ['points', 'at', 'top', 'events', 'filter', 'pid', 'startTime'] as const) {
      if (r[key] !== undefined) throw new InvalidFieldError(key, 'needs a range (from and to)')
    }
    return req
  }
  if (from === undefined || to === undefined) throw new InvalidFieldError(from === undefined ? 'from' : 'to', 'a range needs both from and to')
  if (from >= to) throw new InvalidFieldError('from', `must be before to (from ${new Date(from).toISOString()}, to ${new Date(to).toISOString()})`)
  if (to - from > HISTORY_MAX_RANGE_MS) throw new InvalidFieldError('to', 'the range is longer than a year')
  const pid = optional(r.pid, v => expectInt(v, 'pid', { min: 0 }))
  const startTime = optional(r.startTime, v => time(v, 'startTime'))
  if ((pid === undefined) !== (startTime === undefined)) throw new InvalidFieldError(pid === undefined ? 'pid' : 'startTime', 'a process is named by pid and startTime together')
  if (pid !== undefined && to - from > HISTORY_MAX_PROCESS_RANGE_MS) throw new InvalidFieldError('pid', `a process's series covers at most ${HISTORY_MAX_PROCESS_RANGE_MS / 3_600_000} h`)
  return {
    type: 'history',
    from,
    to,
    points: optional(r.points, v => expectInt(v, 'points', { min: 1, max: HISTORY_MAX_RANGE_POINTS })),
    at: optional(r.at, v => time(v, 'at')),
    top: optional(r.top, v => expectInt(v, 'top', { min: 0, max: HISTORY_MAX_TOP })),
    events: optional(r.events, v => expectBoolean(v, 'events')),
    filter: optional(r.filter, v => expectString(v, 'filter', { maxBytes: MAX_FILTER_BYTES })),
    ...(pid !== undefined && startTime !== undefined ? { pid, startTime } : {})
  }
}

export const HISTORY: ProtocolDescriptor<HistoryRequest, HistoryResult> = {
  id: HISTORY_PROTOCOL,
  role: 'read',
  maxRequestBytes: 1024,
  maxResponseBytes: 8 * 1024 * 1024,
  readDeadlineMs: 5000,
  deadlineMs: 10_000,
  maxInboundStreams: 4,
  maxOutboundStreams: 16,
  validateRequest: validateHistoryRequest,
  validateResult (value) {
    const r = expectRecord(value, 'result')
    const result: HistoryResult = {
      intervalMs: expectInt(r.intervalMs, 'result.intervalMs', { min: 1 }),
      memTotal: expectNumber(r.memTotal, 'result.memTotal', { min: 0 }),
      points: expectArray(r.points, 'result.points', MAX_HISTORY_POINTS).map((v, i) => {
        const p = expectRecord(v, `result.points[${i}]`)
        return {
          at: expectNumber(p.at, `result.points[${i}].at`),
          cpuPercent: expectNumber(p.cpuPercent, `result.points[${i}].cpuPercent`, { min: 0 }),
          memUsed: expectNumber(p.memUsed, `result.points[${i}].memUsed`, { min: 0 }),
          load1: expectNumber(p.load1, `result.points[${i}].load1`, { min: 0 }),
          procCount: expectNumber(p.procCount, `result.points[${i}].procCount`, { min: 0 }),
          ...(p.cpuMax !== undefined ? { cpuMax: expectNumber(p.cpuMax, `result.points[${i}].cpuMax`, { min: 0 }) } : {})
        }
      })
    }
    if (r.range !== undefined) {
      const g = expectRecord(r.range, 'result.range')
      result.range = {
        from: expectNumber(g.from, 'result.range.from', { min: 0 }),
        to: expectNumber(g.to, 'result.range.to', { min: 0 }),
        bucketMs: expectNumber(g.bucketMs, 'result.range.bucketMs', { min: 1 }),
        samples: expectInt(g.samples, 'result.range.samples', { min: 0 }),
        oldest: g.oldest === null ? null : expectNumber(g.oldest, 'result.range.oldest', { min: 0 })
      }
    }
    if (r.top !== undefined) result.top = expectArray(r.top, 'result.top', HISTORY_MAX_TOP * 2).map((v, i) => validateHistoryProcess(v, `result.top[${i}]`))
    if (r.atSample !== undefined) {
      const a = expectRecord(r.atSample, 'result.atSample')
      result.atSample = {
        at: expectNumber(a.at, 'result.atSample.at', { min: 0 }),
        processes: expectArray(a.processes, 'result.atSample.processes', HISTORY_MAX_TOP * 2).map((v, i) => validateHistoryProcess(v, `result.atSample.processes[${i}]`))
      }
    }
    if (r.events !== undefined) result.events = expectArray(r.events, 'result.events', HISTORY_MAX_EVENTS).map((v, i) => validateHistoryEvent(v, `result.events[${i}]`))
    if (r.eventsTruncated !== undefined) result.eventsTruncated = expectBoolean(r.eventsTruncated, 'result.eventsTruncated')
    if (r.process !== undefined) {
      const x = expectRecord(r.process, 'result.process')
      result.process = {
        pid: expectInt(x.pid, 'result.process.pid', { min: 0 }),
        startTime: expectNumber(x.startTime, 'result.process.startTime', { min: 0 }),
        points: expectArray(x.points, 'result.process.points', HISTORY_MAX_RANGE_POINTS).map((v, i) => {
          const q = expectRecord(v, `result.process.points[${i}]`)
          return {
            at: expectNumber(q.at, `result.process.points[${i}].at`, { min: 0 }),
            cpuPercent: expectNumber(q.cpuPercent, `result.process.points[${i}].cpuPercent`, { min: 0 }),
            rss: expectNumber(q.rss, `result.process.points[${i}].rss`, { min: 0 })
          }
        })
      }
    }
    return result
  }
}

// ---- summary (pulled on a gossip gap or a new peer) ----
export interface SummaryRequest { type: 'summary' }

export const SUMMARY: ProtocolDescriptor<SummaryRequest, Summary> = {
  id: SUMMARY_PROTOCOL,
  role: 'read',
  maxRequestBytes: 64,
  // JSON framing around a summary that is itself capped
  maxResponseBytes: MAX_SUMMARY_BYTES + 256,
  readDeadlineMs: 5000,
  deadlineMs: 5000,
  // a viewer pulls once per gap; a few at once cover a burst of reconnects
  maxInboundStreams: 4,
  maxOutboundStreams: 4,
  validateRequest (value) {
    expectType(expectRecord(value, 'request'), 'summary')
    return { type: 'summary' }
  },
  validateResult (value) {
    return validateSummary(value)
  }
}

// ---- audit ----
export interface AuditRequest { type: 'audit', limit?: number }
export interface AuditResult { entries: AuditEntry[] }
/** entries one audit request may ask for (the newest ones); `procmesh audit` asks for 50 by default */
export const MAX_AUDIT_ENTRIES = 1000

export const AUDIT: ProtocolDescriptor<AuditRequest, AuditResult> = {
  id: AUDIT_PROTOCOL,
  role: 'read',
  maxRequestBytes: 1024,
  // 1,000 entries of at most ~4 KiB each (argv clipped in audit.ts)
  maxResponseBytes: 4 * 1024 * 1024,
  readDeadlineMs: 5000,
  deadlineMs: 10_000,
  maxInboundStreams: 2,
  maxOutboundStreams: 16,
  validateRequest (value) {
    const r = expectRecord(value, 'request')
    expectType(r, 'audit')
    return { type: 'audit', limit: optional(r.limit, v => expectInt(v, 'limit', { min: 1, max: MAX_AUDIT_ENTRIES })) }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return { entries: expectArray(r.entries, 'result.entries', MAX_AUDIT_ENTRIES).map((e, i) => validateAuditEntry(e, `result.entries[${i}]`)) }
  }
}

// ---- claim ----
/**
 * A joining node presents the single-use secret of its join token to the inviting
 * node, which then grants the token's role to the authenticated peer that presented
 * it (never to a peer id named in the payload).
 */
export const CLAIM_PROTOCOL = '/procmesh/claim/1.0.0'
export interface ClaimRequest { type: 'claim', secret: string }
export interface ClaimResult { role: 'read' | 'control' | 'exec', name: string }

export const CLAIM: ProtocolDescriptor<ClaimRequest, ClaimResult> = {
  id: CLAIM_PROTOCOL,
  // any member may try; the 128-bit secret is the authorisation
  role: 'read',
  maxRequestBytes: 256,
  maxResponseBytes: 1024,
  readDeadlineMs: 5000,
  deadlineMs: 5000,
  maxInboundStreams: 1,
  maxOutboundStreams: 1,
  validateRequest (value) {
    const r = expectRecord(value, 'request')
    expectType(r, 'claim')
    return { type: 'claim', secret: expectString(r.secret, 'secret', { pattern: CLAIM_SECRET_PATTERN }) }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return {
      role: expectOneOf(r.role, 'result.role', ['read', 'control', 'exec'] as const),
      name: expectString(r.name, 'result.name', { maxBytes: 256 })
    }
  }
}
