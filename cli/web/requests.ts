/**
 * Validation of what HTTP clients send: query parameters, path segments and JSON
 * bodies become control-API params or a 400 naming the bad field. Pure.
 */
import type { KillParams, RestartParams, RunParams } from '../../protocols/control.js'
import { ProcmeshError } from '../../protocols/errors.js'
import {
  HISTORY_DEFAULT_POINTS, HISTORY_MAX_RANGE_MS, HISTORY_MAX_RANGE_POINTS, HISTORY_MAX_TOP, MAX_FILTER_BYTES, MAX_GRACE_MS, MAX_PATH_BYTES,
  REQUEST_ID_PATTERN, SIGNALS, signalFromText, validateArgv, validateEnv, type SignalName
} from '../../protocols/messages.js'
import { validateDeployName } from '../../protocols/deploy.js'
import { MANAGED_REF_PATTERN } from '../../protocols/managed.js'
import { describe, expectBoolean, expectInt, expectNumber, expectRecord, expectString, optional } from '../../protocols/validate.js'
import { isSortKey, SORT_KEYS, type SortSpec } from '../../protocols/processes.js'
import { UsageError } from '../args.js'
import { parseTime } from '../commands/history.js'
import { isGroupTarget } from '../process-view.js'
import { badRequest } from './http-errors.js'

/** The largest pid any platform hands out (Linux caps pid_max at 2^22; this leaves room). */
export const MAX_PID = 2 ** 31 - 1
/** TARGETs are node names, peer ids, `tag:K=V`, `all` or `self`: short. */
export const MAX_TARGET_BYTES = 256
/** Sparklines need tens of points; a client may ask for more, up to this. */
export const MAX_HISTORY_POINTS_PER_HOST = 1000
export const DEFAULT_HISTORY_POINTS = 120
/** Sparklines look back this far unless the client says `since`. */
export const DEFAULT_HISTORY_WINDOW_MS = 15 * 60 * 1000

/** Run a validator; its InvalidFieldError (naming the field) becomes a 400. */
export function checked<T> (fn: () => T): T {
  try {
    return fn()
  } catch (err: unknown) {
    if (err instanceof ProcmeshError && err.code === 'INVALID_REQUEST') throw badRequest(err.message)
    throw err
  }
}

export function parseJsonBody (text: string): unknown {
  if (text.trim() === '') throw badRequest('body: empty; expected a JSON object')
  try {
    return JSON.parse(text)
  } catch (err: unknown) {
    throw badRequest(`body: not valid JSON (${err instanceof Error ? err.message : String(err)})`)
  }
}

function rejectUnknownFields (body: Record<string, unknown>, known: readonly string[]): void {
  const extra = Object.keys(body).filter(k => !known.includes(k))
  if (extra.length > 0) throw badRequest(`${extra[0]}: unknown field in the body (known: ${known.join(', ')})`)
}

export function parseTarget (value: unknown, path: string): string {
  if (value === undefined || value === null) throw badRequest(`${path}: missing; a node name, peer id (or unique prefix), tag:KEY=VALUE, all or self`)
  return checked(() => expectString(value, path, { minLength: 1, maxBytes: MAX_TARGET_BYTES, noNul: true })).trim()
}

function singleQuery (params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name)
  if (all.length > 1) throw badRequest(`${name}: given ${all.length} times; give it once`)
  return all[0]
}

function queryInt (params: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const text = singleQuery(params, name)
  if (text === undefined) return undefined
  if (!/^\d{1,16}$/.test(text) || Number(text) < min || Number(text) > max) throw badRequest(`${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(text.slice(0, 40))}`)
  return Number(text)
}

export interface ProcessesQuery {
  target: string
  filter?: string
  sort?: SortSpec
  limit?: number
}

/** `GET /api/processes?host=TARGET[&filter=TEXT][&sort=cpu|mem|pid|name][&limit=N]` */
export function parseProcessesQuery (params: URLSearchParams): ProcessesQuery {
  const target = parseTarget(singleQuery(params, 'host'), 'host')
  const filter = singleQuery(params, 'filter')
  if (filter !== undefined && Buffer.byteLength(filter) > MAX_FILTER_BYTES) throw badRequest(`filter: longer than ${MAX_FILTER_BYTES} bytes`)
  const sort = singleQuery(params, 'sort')
  if (sort !== undefined && !isSortKey(sort)) throw badRequest(`sort: one of ${SORT_KEYS.join(', ')}, got ${JSON.stringify(sort.slice(0, 40))}`)
  const limit = queryInt(params, 'limit', 1, Number.MAX_SAFE_INTEGER)
  return {
    target,
    ...(filter !== undefined && filter !== '' ? { filter } : {}),
    ...(sort !== undefined && isSortKey(sort) ? { sort: { key: sort } } : {}),
    ...(limit !== undefined ? { limit } : {})
  }
}

/**
 * A history request: `since` asks for the recent samples a node keeps in memory
 * (sparklines); `from`/`to` for a range of its durable history, with the top processes
 * over the range (`top`) or at a time (`at`), and a process filter.
 */
export type HistoryQuery =
  | { target: string, since: number, points: number }
  | { target: string, from: number, to: number, points: number, at?: number, top?: number, filter?: string }

/** A time parameter, as the CLI's `history` flags take it (`-2h`, an ISO date-time, ms since the epoch, `now`, `03:10`). */
function queryTime (params: URLSearchParams, name: string, now: number, future = false): number | undefined {
  const text = singleQuery(params, name)
  if (text === undefined) return undefined
  try {
    return parseTime(text.slice(0, 100), now, name, { future })
  } catch (err: unknown) {
    if (err instanceof UsageError) throw badRequest(err.message)
    throw err
  }
}

function iso (ms: number): string {
  return new Date(ms).toISOString()
}

/**
 * `GET /api/history?host=TARGET[&since=MS_EPOCH][&points=N]`, or a range:
 * `GET /api/history?host=TARGET&from=T[&to=T][&points=N][&at=T][&top=N][&filter=TEXT]`
 * (to defaults to now). A range must start before it ends, span at most a year and hold `at`.
 */
export function parseHistoryQuery (params: URLSearchParams, now: number): HistoryQuery {
  const target = parseTarget(singleQuery(params, 'host'), 'host')
  if (!params.has('from') && !params.has('to')) {
    for (const name of ['at', 'top', 'filter']) if (params.has(name)) throw badRequest(`${name}: needs a range (from, and to unless it is now)`)
    const since = queryInt(params, 'since', 0, Number.MAX_SAFE_INTEGER) ?? Math.max(0, now - DEFAULT_HISTORY_WINDOW_MS)
    const points = queryInt(params, 'points', 1, MAX_HISTORY_POINTS_PER_HOST) ?? DEFAULT_HISTORY_POINTS
    return { target, since, points }
  }
  if (params.has('since')) throw badRequest('since: give either since or a range (from, to), not both')
  const from = queryTime(params, 'from', now)
  if (from === undefined) throw badRequest('from: missing; a range needs its start (to defaults to now)')
  const to = queryTime(params, 'to', now, true) ?? now
  if (from >= to) throw badRequest(`from: ${iso(from)} is not before to (${iso(to)})`)
  if (to - from > HISTORY_MAX_RANGE_MS) throw badRequest(`to: the range ${iso(from)} .. ${iso(to)} is longer than ${HISTORY_MAX_RANGE_MS / 86_400_000} days`)
  const at = queryTime(params, 'at', now)
  if (at !== undefined && (at < from || at > to)) throw badRequest(`at: ${iso(at)} is outside the range ${iso(from)} .. ${iso(to)}`)
  const points = queryInt(params, 'points', 1, HISTORY_MAX_RANGE_POINTS) ?? HISTORY_DEFAULT_POINTS
  const top = queryInt(params, 'top', 0, HISTORY_MAX_TOP)
  const filter = singleQuery(params, 'filter')
  if (filter !== undefined && Buffer.byteLength(filter) > MAX_FILTER_BYTES) throw badRequest(`filter: longer than ${MAX_FILTER_BYTES} bytes`)
  return {
    target,
    from,
    to,
    points,
    ...(at !== undefined ? { at } : {}),
    ...(top !== undefined ? { top } : {}),
    ...(filter !== undefined && filter !== '' ? { filter } : {})
  }
}

/** `GET /api/managed?host=TARGET`: the managed processes of TARGET, as `procmesh ls`. */
export function parseManagedQuery (params: URLSearchParams): string {
  return parseTarget(singleQuery(params, 'host'), 'host')
}

export interface LogsQuery { target: string, ref: string, follow: boolean }

/**
 * `GET /api/logs?host=TARGET&id=REF[&follow=1]`: the output of one managed process on
 * one host (REF: its managed id, name or current pid, as `procmesh logs` takes it);
 * follow as `1`/`true` or `0`/`false`.
 */
export function parseLogsQuery (params: URLSearchParams): LogsQuery {
  const target = parseTarget(singleQuery(params, 'host'), 'host')
  if (isGroupTarget(target)) throw badRequest(`host: logs come from exactly one host; ${JSON.stringify(target.slice(0, 70))} is a group target`)
  const ref = singleQuery(params, 'id')
  if (ref === undefined || ref === '') throw badRequest('id: missing; the managed process\'s id, name or pid')
  if (!MANAGED_REF_PATTERN.test(ref)) throw badRequest(`id: expected a managed process's id, name or pid (letters, digits, _ and -, at most 64), got ${JSON.stringify(ref.slice(0, 70))}`)
  const followText = singleQuery(params, 'follow')
  let follow = false
  if (followText !== undefined) {
    if (followText === '1' || followText === 'true') follow = true
    else if (followText !== '0' && followText !== 'false') throw badRequest(`follow: expected 1, true, 0 or false, got ${JSON.stringify(followText.slice(0, 40))}`)
  }
  return { target, ref, follow }
}

/** `GET /api/deployments[?name=NAME]`: one deployment's name, as `procmesh deployments NAME` takes it, or all. */
export function parseDeploymentsQuery (params: URLSearchParams): string | undefined {
  const name = singleQuery(params, 'name')
  if (name === undefined) return undefined
  return checked(() => validateDeployName(name, 'name'))
}

/** `POST /api/managed/{host}/{ref}/restart` with an empty JSON object as the body; ref: a managed id, name or pid. */
export function parseRestartRequest (hostSegment: string, refSegment: string, value: unknown): RestartParams {
  const target = parseTarget(hostSegment, 'host')
  if (!MANAGED_REF_PATTERN.test(refSegment)) throw badRequest(`ref: expected a managed process's id, name or pid, got ${JSON.stringify(refSegment.slice(0, 70))}`)
  const extra = Object.keys(checked(() => expectRecord(value, 'body')))
  if (extra.length > 0) throw badRequest(`${extra[0]}: unknown field in the body (a restart takes none: send {})`)
  return { target, ref: refSegment }
}

/** `POST /api/processes` body: `{ host, argv, cwd?, env?, requestId? }`. */
export function parseStartBody (value: unknown): RunParams {
  const body = checked(() => expectRecord(value, 'body'))
  rejectUnknownFields(body, ['host', 'argv', 'cwd', 'env', 'requestId'])
  const target = parseTarget(body.host, 'host')
  if (body.argv === undefined) throw badRequest('argv: missing; the command and its arguments as an array of strings (no shell)')
  return checked(() => {
    const argv = validateArgv(body.argv)
    const cwd = optional(body.cwd, v => expectString(v, 'cwd', { minLength: 1, maxBytes: MAX_PATH_BYTES, noNul: true }))
    const env = optional(body.env, v => validateEnv(v))
    const requestId = optional(body.requestId, v => expectString(v, 'requestId', { pattern: REQUEST_ID_PATTERN }))
    return {
      target,
      argv,
      ...(cwd !== undefined ? { cwd } : {}),
      ...(env !== undefined ? { env } : {}),
      ...(requestId !== undefined ? { requestId } : {})
    }
  })
}

/** `TERM`, `term`, `SIGTERM` and `sigterm` all mean TERM; anything outside SIGNALS is a 400. */
export function parseSignalName (value: unknown): SignalName {
  if (typeof value !== 'string') throw badRequest(`signal: expected a signal name (${SIGNALS.join(', ')}), got ${describe(value)}`)
  const found = signalFromText(value)
  if (found === undefined) throw badRequest(`signal: unknown signal ${JSON.stringify(value.slice(0, 40))}; one of ${SIGNALS.join(', ')} (with or without SIG)`)
  return found
}

/** The pid path segment: a plain decimal integer; 0 and 1 pass here and are refused by the target with its reason. */
export function parsePidSegment (text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > MAX_PID) throw badRequest(`pid: expected an integer process id, got ${JSON.stringify(text.slice(0, 40))}`)
  return Number(text)
}

/** `POST /api/processes/{host}/{pid}/signal` body: `{ signal?, startTime?, tree?, graceMs? }` (signal defaults to TERM). */
export function parseSignalRequest (hostSegment: string, pidSegment: string, value: unknown): KillParams {
  const target = parseTarget(hostSegment, 'host')
  const pid = parsePidSegment(pidSegment)
  const body = checked(() => expectRecord(value, 'body'))
  rejectUnknownFields(body, ['signal', 'startTime', 'tree', 'graceMs'])
  const signal = body.signal === undefined ? 'TERM' : parseSignalName(body.signal)
  return checked(() => {
    const startTime = optional(body.startTime, v => expectNumber(v, 'startTime', { min: 0 }))
    const tree = optional(body.tree, v => expectBoolean(v, 'tree'))
    const graceMs = optional(body.graceMs, v => expectInt(v, 'graceMs', { min: 0, max: MAX_GRACE_MS }))
    return {
      target,
      pid,
      signal,
      ...(startTime !== undefined ? { startTime } : {}),
      ...(tree === true ? { tree: true } : {}),
      ...(graceMs !== undefined ? { graceMs } : {})
    }
  })
}
