/**
 * The JSON API's handlers: each turns validated input into one control-API call
 * on the local node and its answer into the CLI contract's JSON. No HTTP here;
 * the server maps thrown errors to statuses.
 */
import { randomUUID } from 'node:crypto'
import { CONTROL_METHODS, type KillParams, type PsEntry, type PsParams, type RunParams } from '../../protocols/control.js'
import { ProcmeshError, isErrorCode } from '../../protocols/errors.js'
import type { HistoryPoint } from '../../protocols/messages.js'
import type { PeerEntry } from '../../protocols/types.js'
import { isRecord } from '../../protocols/validate.js'
import type { CallOptions } from '../control-client.js'
import { parseKillResult } from '../commands/kill.js'
import { peerJson } from '../commands/peers.js'
import { isGroupTarget, parsePsEntry } from '../commands/ps.js'
import { parseRunResult } from '../commands/run.js'
import { psEntryJson, selectProcesses } from '../process-view.js'
import { HttpError, STATUS_BY_CODE } from './http-errors.js'
import type { HistoryQuery, ProcessesQuery } from './requests.js'

/** One control-API call on the local node (a fresh connection per call; see nodeCaller). */
export type NodeCall = (method: string, params?: unknown, opts?: CallOptions) => Promise<unknown>

/** The node answers ps within its own 10 s fan-out timeout; this only bounds a wedged node. */
export const PS_TIMEOUT_MS = 15_000
/** peers is answered from memory: a node that takes longer is in trouble. */
export const PEERS_TIMEOUT_MS = 5_000
/** history of `all` fans out like ps. */
export const HISTORY_TIMEOUT_MS = 15_000
/** a start is forwarded once and retried once with the same request id. */
export const RUN_TIMEOUT_MS = 30_000
/** a stop may wait its grace period before KILL; this is on top of it. */
export const KILL_TIMEOUT_MARGIN_MS = 30_000

export interface ApiResponse {
  status: number
  body: unknown
}

export function ok (body: unknown, status = 200): ApiResponse {
  return { status, body }
}

function protocolError (what: string): ProcmeshError {
  return new ProcmeshError('PROTOCOL_ERROR', `${what}: the node answered something unexpected`)
}

/** `GET /api/hosts`: the mesh view, as `procmesh peers --json`. */
export async function getHosts (call: NodeCall, signal?: AbortSignal): Promise<ApiResponse> {
  return ok((await fetchPeers(call, signal)).map(peerJson))
}

export async function fetchPeers (call: NodeCall, signal?: AbortSignal): Promise<PeerEntry[]> {
  // a page shows these hosts: ask for their live figures, not only the gossiped ones
  const peers = await call(CONTROL_METHODS.peers, { live: 'all' }, { timeoutMs: PEERS_TIMEOUT_MS, signal })
  if (!Array.isArray(peers) || !peers.every(p => isRecord(p) && typeof p.peerId === 'string' && isRecord(p.host))) throw protocolError('peers')
  return peers as PeerEntry[]
}

/**
 * `GET /api/processes`: as `procmesh ps TARGET --json`, one entry per target peer.
 * A lone target that failed answers with its error and status (as the CLI exits 1);
 * for `all` and `tag:` targets a failed peer is an entry with `error`, as in the CLI.
 */
export async function getProcesses (call: NodeCall, query: ProcessesQuery, signal?: AbortSignal): Promise<ApiResponse> {
  const params: PsParams = { target: query.target, ...(query.filter !== undefined ? { filter: query.filter } : {}) }
  const result = await call(CONTROL_METHODS.ps, params, { timeoutMs: PS_TIMEOUT_MS, signal })
  if (!Array.isArray(result)) throw protocolError('ps')
  const entries: PsEntry[] = result.map(parsePsEntry)
  if (entries.length === 0 && !isGroupTarget(query.target)) throw new ProcmeshError('UNKNOWN_PEER', `no peer matched ${JSON.stringify(query.target)}`)
  if (entries.length === 1 && !isGroupTarget(query.target)) {
    const only = entries[0]
    if ('error' in only) throw new HttpError(STATUS_BY_CODE[only.error.code], only.error.code, `${only.name}: ${only.error.message}`)
  }
  const select = { filter: query.filter, sort: query.sort, limit: query.limit }
  return ok(entries.map(e => 'error' in e ? psEntryJson(e) : psEntryJson(e, selectProcesses(e.processes, select).processes)))
}

/**
 * At most `max` points: consecutive points are averaged into `max` buckets (the
 * time of a bucket is its last point's), so a sparkline keeps its shape. Pure.
 */
export function downsample (points: readonly HistoryPoint[], max: number): HistoryPoint[] {
  if (points.length <= max) return [...points]
  const out: HistoryPoint[] = []
  for (let i = 0; i < max; i++) {
    const from = Math.floor(i * points.length / max)
    const to = Math.floor((i + 1) * points.length / max)
    const bucket = points.slice(from, to)
    const mean = (f: (p: HistoryPoint) => number): number => bucket.reduce((sum, p) => sum + f(p), 0) / bucket.length
    out.push({
      at: bucket[bucket.length - 1].at,
      cpuPercent: Math.round(mean(p => p.cpuPercent) * 10) / 10,
      memUsed: Math.round(mean(p => p.memUsed)),
      load1: Math.round(mean(p => p.load1) * 100) / 100,
      procCount: Math.round(mean(p => p.procCount))
    })
  }
  return out
}

function historyPoint (value: unknown): HistoryPoint | undefined {
  if (!isRecord(value)) return undefined
  const { at, cpuPercent, memUsed, load1, procCount } = value
  if (typeof at !== 'number' || typeof cpuPercent !== 'number' || typeof memUsed !== 'number' || typeof load1 !== 'number' || typeof procCount !== 'number') return undefined
  return { at, cpuPercent, memUsed, load1, procCount }
}

/** One host's history for sparklines: `{ peerId, name, intervalMs, memTotal, points }` or `{ peerId, name, error }`. */
export function historyEntryJson (value: unknown, maxPoints: number): Record<string, unknown> {
  if (!isRecord(value) || typeof value.peerId !== 'string' || typeof value.name !== 'string') throw protocolError('history')
  const { peerId, name } = value
  if (isRecord(value.error)) {
    const code = isErrorCode(value.error.code) ? value.error.code : 'PROTOCOL_ERROR'
    return { peerId, name, error: { code, message: typeof value.error.message === 'string' ? value.error.message : 'no message' } }
  }
  const h = value.history
  if (!isRecord(h) || !Array.isArray(h.points)) return { peerId, name, error: { code: 'PROTOCOL_ERROR', message: 'bad history answer' } }
  const points = h.points.map(historyPoint).filter((p): p is HistoryPoint => p !== undefined)
  return {
    peerId,
    name,
    intervalMs: typeof h.intervalMs === 'number' ? h.intervalMs : 0,
    memTotal: typeof h.memTotal === 'number' ? h.memTotal : 0,
    points: downsample(points, maxPoints)
  }
}

/** `GET /api/history`: each target's recent host samples (CPU, memory, load, process count). */
export async function getHistory (call: NodeCall, query: HistoryQuery, signal?: AbortSignal): Promise<ApiResponse> {
  const result = await call(CONTROL_METHODS.history, { target: query.target, since: query.since }, { timeoutMs: HISTORY_TIMEOUT_MS, signal })
  if (!Array.isArray(result)) throw protocolError('history')
  return ok(result.map(e => historyEntryJson(e, query.points)))
}

/** A request id per HTTP request unless the client sent one: a retry by the node never starts twice. */
export function webRequestId (): string {
  return `web-${randomUUID()}`
}

/** `POST /api/processes`: start argv on one host; 201 with `procmesh run --json`'s fields. */
export async function startProcess (call: NodeCall, params: RunParams): Promise<ApiResponse> {
  const withId: RunParams = { ...params, requestId: params.requestId ?? webRequestId() }
  const r = parseRunResult(await call(CONTROL_METHODS.run, withId, { timeoutMs: RUN_TIMEOUT_MS }))
  return ok({ peerId: r.peerId, name: r.name, managedId: r.managedId, pid: r.pid, startTime: r.startTime }, 201)
}

/**
 * `POST /api/processes/{host}/{pid}/signal`: `procmesh kill --json`'s fields. A
 * `gone` result is still 200: the answer is definite (nothing was signalled) and the
 * body says so; denials and unknown pids are errors with their own statuses.
 */
export async function signalProcess (call: NodeCall, params: KillParams): Promise<ApiResponse> {
  const r = parseKillResult(await call(CONTROL_METHODS.kill, params, { timeoutMs: (params.graceMs ?? 0) + KILL_TIMEOUT_MARGIN_MS }))
  return ok({ peerId: r.peerId, name: r.name, pid: r.pid, signal: r.signal, result: r.result, signalled: r.signalled })
}
