/**
 * Audit entries (pure): one JSON line of a node's audit.log, and what the audit
 * protocol and `procmesh audit --json` carry. A decision is written when it is
 * taken; an allowed start or stop writes a second line with the same `id` once the
 * result is known (readers keep the latest line of each id).
 */
import { InvalidFieldError } from './errors.js'
import { MAX_ADDR_BYTES, MAX_NAME_BYTES } from './limits.js'
import {
  expectArray, expectInt, expectNumber, expectOneOf, expectRecord, expectString, optional
} from './validate.js'

/**
 * exit and restart are the supervisor's own records (peerId null unless a peer asked for the restart);
 * deploy: a host's refusal to run a deployment's spec (peerId: the spec's author)
 */
export const AUDIT_EVENTS = ['start', 'stop', 'request', 'connection', 'trust', 'invite', 'claim', 'restart', 'remove', 'exit', 'deploy', 'rotate-key'] as const
export type AuditEvent = typeof AUDIT_EVENTS[number]
export const AUDIT_DECISIONS = ['allowed', 'denied'] as const
export type AuditDecision = typeof AUDIT_DECISIONS[number]

/** argv kept in an audit line: the head of a huge argv is enough to see what was asked. */
export const AUDIT_MAX_ARGS = 64
export const AUDIT_MAX_ARG_BYTES = 1024
/** reason and result texts */
export const AUDIT_MAX_TEXT_BYTES = 2048

export interface AuditEntry {
  /** unique per decision; the result line of a decision repeats it */
  id: string
  /** ms epoch, the node's clock */
  time: number
  event: AuditEvent
  /** the authenticated remote peer (this node's id for local control-socket requests); null when unknown */
  peerId: string | null
  /** its name in the mesh view or trust file, when known */
  name: string | null
  /** how the request arrived */
  via: 'mesh' | 'local'
  /** remote address (connection events) */
  addr?: string
  /** start: the command (truncated, see AUDIT_MAX_ARGS); env values are never recorded */
  argv?: string[]
  envKeys?: string[]
  cwd?: string
  /** start: the file it would run (resolved as execvp would), when found */
  executable?: string
  /** start: env entries that are search paths or code locations (PATH, PYTHONPATH ...), with their values */
  envPaths?: Record<string, string>
  /** stop, restart, remove, exit: the process, and the managed record it belongs to */
  managedId?: string
  /** stop */
  pid?: number
  signal?: string
  /** local control-socket requests: the user (uid, name) and process behind the CLI or web action */
  localUid?: number
  localUser?: string
  localPid?: number
  /** trust changes: the subject peer and its new role */
  subject?: string
  role?: string
  decision: AuditDecision
  reason: string
  /** 'pending' until an allowed action finished, then what happened */
  result?: string
}

/** Cut a text to at most `max` bytes (on a character boundary), marking the cut. */
export function clip (text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text
  let out = text.slice(0, max)
  while (Buffer.byteLength(out) > max - 3) out = out.slice(0, -1)
  return out + '...'
}

export function clipArgv (argv: readonly string[], maxArgs = AUDIT_MAX_ARGS, maxArgBytes = AUDIT_MAX_ARG_BYTES): string[] {
  const head = argv.slice(0, maxArgs).map(a => clip(a, maxArgBytes))
  if (argv.length > maxArgs) head.push(`... (${argv.length - maxArgs} more arguments)`)
  return head
}

/**
 * A denied start keeps much less of its argv: a refusal needs only enough to see what
 * was asked, and a peer sending denied requests must not fill the log quickly.
 */
export const AUDIT_DENIED_MAX_ARGS = 8
export const AUDIT_DENIED_MAX_ARG_BYTES = 128

/**
 * Clip every field of an entry to what validateAuditEntry accepts (the writer does
 * this before writing and the reader before validating), so no line is ever dropped
 * for its length: an over-long field is shown cut, marked with "...".
 */
export function clipAuditEntry (value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value }
  const text = (k: string, max: number): void => { if (typeof out[k] === 'string') out[k] = clip(out[k], max) }
  text('reason', AUDIT_MAX_TEXT_BYTES)
  text('result', AUDIT_MAX_TEXT_BYTES)
  text('cwd', AUDIT_MAX_TEXT_BYTES)
  text('executable', AUDIT_MAX_TEXT_BYTES)
  text('addr', MAX_ADDR_BYTES)
  text('name', MAX_NAME_BYTES)
  text('signal', 16)
  text('role', 16)
  text('localUser', 64)
  if (Array.isArray(out.argv) && out.argv.every(a => typeof a === 'string')) {
    const argv = out.argv as string[]
    out.argv = argv.length > AUDIT_MAX_ARGS + 1 || argv.some(a => Buffer.byteLength(a) > AUDIT_MAX_ARG_BYTES + 64) ? clipArgv(argv) : argv
  }
  if (Array.isArray(out.envKeys)) out.envKeys = out.envKeys.slice(0, 256).map(k => typeof k === 'string' ? clip(k, 128) : k)
  if (typeof out.envPaths === 'object' && out.envPaths !== null && !Array.isArray(out.envPaths)) {
    out.envPaths = Object.fromEntries(Object.entries(out.envPaths).slice(0, AUDIT_MAX_ENV_PATHS).map(([k, v]) => [clip(k, 128), typeof v === 'string' ? clip(v, AUDIT_MAX_ARG_BYTES) : v]))
  }
  return out
}

const TEXT = { maxBytes: AUDIT_MAX_TEXT_BYTES }

function nullableString (value: unknown, path: string, maxBytes: number): string | null {
  return value === null ? null : expectString(value, path, { maxBytes })
}

export function validateAuditEntry (value: unknown, path: string): AuditEntry {
  const r = expectRecord(value, path)
  const entry: AuditEntry = {
    id: expectString(r.id, `${path}.id`, { pattern: /^[A-Za-z0-9_-]{1,64}$/ }),
    time: expectNumber(r.time, `${path}.time`, { min: 0 }),
    event: expectOneOf(r.event, `${path}.event`, AUDIT_EVENTS),
    peerId: nullableString(r.peerId, `${path}.peerId`, 128),
    name: nullableString(r.name, `${path}.name`, MAX_NAME_BYTES),
    via: expectOneOf(r.via, `${path}.via`, ['mesh', 'local'] as const),
    decision: expectOneOf(r.decision, `${path}.decision`, AUDIT_DECISIONS),
    reason: expectString(r.reason, `${path}.reason`, TEXT)
  }
  const addr = optional(r.addr, v => expectString(v, `${path}.addr`, { maxBytes: MAX_ADDR_BYTES }))
  if (addr !== undefined) entry.addr = addr
  const argv = optional(r.argv, v => expectArray(v, `${path}.argv`, AUDIT_MAX_ARGS + 1).map((a, i) => expectString(a, `${path}.argv[${i}]`, { maxBytes: AUDIT_MAX_ARG_BYTES + 64 })))
  if (argv !== undefined) entry.argv = argv
  const envKeys = optional(r.envKeys, v => expectArray(v, `${path}.envKeys`, 256).map((a, i) => expectString(a, `${path}.envKeys[${i}]`, { maxBytes: 128 })))
  if (envKeys !== undefined) entry.envKeys = envKeys
  const cwd = optional(r.cwd, v => expectString(v, `${path}.cwd`, TEXT))
  if (cwd !== undefined) entry.cwd = cwd
  const executable = optional(r.executable, v => expectString(v, `${path}.executable`, TEXT))
  if (executable !== undefined) entry.executable = executable
  const envPaths = optional(r.envPaths, v => validateEnvPaths(v, `${path}.envPaths`))
  if (envPaths !== undefined) entry.envPaths = envPaths
  const managedId = optional(r.managedId, v => expectString(v, `${path}.managedId`, { pattern: /^[A-Za-z0-9_-]{1,64}$/ }))
  if (managedId !== undefined) entry.managedId = managedId
  const pid = optional(r.pid, v => expectInt(v, `${path}.pid`))
  if (pid !== undefined) entry.pid = pid
  const signal = optional(r.signal, v => expectString(v, `${path}.signal`, { maxBytes: 16 }))
  if (signal !== undefined) entry.signal = signal
  const subject = optional(r.subject, v => expectString(v, `${path}.subject`, { maxBytes: 128 }))
  if (subject !== undefined) entry.subject = subject
  const role = optional(r.role, v => expectString(v, `${path}.role`, { maxBytes: 16 }))
  if (role !== undefined) entry.role = role
  const localUid = optional(r.localUid, v => expectInt(v, `${path}.localUid`, { min: 0 }))
  if (localUid !== undefined) entry.localUid = localUid
  const localUser = optional(r.localUser, v => expectString(v, `${path}.localUser`, { maxBytes: 64 }))
  if (localUser !== undefined) entry.localUser = localUser
  const localPid = optional(r.localPid, v => expectInt(v, `${path}.localPid`, { min: 1 }))
  if (localPid !== undefined) entry.localPid = localPid
  const result = optional(r.result, v => expectString(v, `${path}.result`, TEXT))
  if (result !== undefined) entry.result = result
  return entry
}

/** env entries an audit line may show with their value */
export const AUDIT_MAX_ENV_PATHS = 16

function validateEnvPaths (value: unknown, path: string): Record<string, string> {
  const r = expectRecord(value, path)
  const keys = Object.keys(r)
  if (keys.length > AUDIT_MAX_ENV_PATHS) throw new InvalidFieldError(path, `more than ${AUDIT_MAX_ENV_PATHS} entries`)
  const out: Record<string, string> = {}
  for (const k of keys) out[expectString(k, `${path} key`, { maxBytes: 128 })] = expectString(r[k], `${path}.${k.slice(0, 40)}`, { maxBytes: AUDIT_MAX_ARG_BYTES + 64 })
  return out
}

/** Keep the latest line of each id, in the order the ids first appeared. */
export function mergeAuditLines (entries: readonly AuditEntry[]): AuditEntry[] {
  const byId = new Map<string, AuditEntry>()
  for (const e of entries) byId.set(e.id, e)
  return [...byId.values()]
}
