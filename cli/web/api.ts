/**
 * The JSON API's handlers: each turns validated input into one control-API call
 * on the local node and its answer into the CLI contract's JSON. No HTTP here;
 * the server maps thrown errors to statuses.
 */
import { randomUUID } from 'node:crypto'
import type { HistoryEntry, KillParams, PsParams, RunParams } from '../../protocols/control.js'
import { ProcmeshError } from '../../protocols/errors.js'
import type { HistoryPoint } from '../../protocols/messages.js'
import type { PeerEntry } from '../../protocols/types.js'
import type { ControlClient } from '../control-client.js'
import { peerJson } from '../peer-view.js'
import { isGroupTarget, psEntryJson, selectProcesses } from '../process-view.js'
import { HttpError, STATUS_BY_CODE } from './http-errors.js'
import type { HistoryQuery, ProcessesQuery } from './requests.js'

/** Run `fn` with a control-API client of the local node (the server opens a fresh connection per call). */
export type WithNode = <T>(fn: (client: ControlClient) => Promise<T>) => Promise<T>

export interface ApiResponse {
  status: number
  body: unknown
}

export function ok (body: unknown, status = 200): ApiResponse {
  return { status, body }
}

/** `GET /api/hosts`: the mesh view, as `procmesh peers --json`. */
export async function getHosts (node: WithNode, signal?: AbortSignal): Promise<ApiResponse> {
  return ok((await fetchPeers(node, signal)).map(peerJson))
}

export async function fetchPeers (node: WithNode, signal?: AbortSignal): Promise<PeerEntry[]> {
  // a page shows these hosts: ask for their live figures, not only the gossiped ones
  return await node(async c => await c.peers({ live: 'all' }, { signal }))
}

/**
 * `GET /api/processes`: as `procmesh ps TARGET --json`, one entry per target peer.
 * A lone target that failed answers with its error and status (as the CLI exits 1);
 * for `all` and `tag:` targets a failed peer is an entry with `error`, as in the CLI.
 */
export async function getProcesses (node: WithNode, query: ProcessesQuery, signal?: AbortSignal): Promise<ApiResponse> {
  const params: PsParams = { target: query.target, ...(query.filter !== undefined ? { filter: query.filter } : {}) }
  const entries = await node(async c => await c.ps(params, { signal }))
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

/** One host's history for sparklines: `{ peerId, name, intervalMs, memTotal, points }` or `{ peerId, name, error }`. */
export function historyEntryJson (entry: HistoryEntry, maxPoints: number): Record<string, unknown> {
  const { peerId, name } = entry
  if ('error' in entry) return { peerId, name, error: { code: entry.error.code, message: entry.error.message } }
  const h = entry.history
  return { peerId, name, intervalMs: h.intervalMs, memTotal: h.memTotal, points: downsample(h.points, maxPoints) }
}

/** `GET /api/history`: each target's recent host samples (CPU, memory, load, process count). */
export async function getHistory (node: WithNode, query: HistoryQuery, signal?: AbortSignal): Promise<ApiResponse> {
  const entries = await node(async c => await c.history({ target: query.target, since: query.since }, { signal }))
  return ok(entries.map(e => historyEntryJson(e, query.points)))
}

/** A request id per HTTP request unless the client sent one: a retry by the node never starts twice. */
export function webRequestId (): string {
  return `web-${randomUUID()}`
}

/** `POST /api/processes`: start argv on one host; 201 with `procmesh run --json`'s fields. */
export async function startProcess (node: WithNode, params: RunParams): Promise<ApiResponse> {
  if (isGroupTarget(params.target)) {
    throw new ProcmeshError('INVALID_REQUEST', `host: the dashboard starts on exactly one host; ${JSON.stringify(params.target)} is a group target (procmesh run ${params.target} -- CMD starts on every matching host)`)
  }
  const withId: RunParams = { ...params, requestId: params.requestId ?? webRequestId() }
  const r = await node(async c => await c.run(withId))
  return ok({ peerId: r.peerId, name: r.name, managedId: r.managedId, pid: r.pid, startTime: r.startTime }, 201)
}

/**
 * `POST /api/processes/{host}/{pid}/signal`: `procmesh kill --json`'s fields. A
 * `gone` result is still 200: the answer is definite (nothing was signalled) and the
 * body says so; denials and unknown pids are errors with their own statuses.
 */
export async function signalProcess (node: WithNode, params: KillParams): Promise<ApiResponse> {
  const r = await node(async c => await c.kill(params))
  return ok({ peerId: r.peerId, name: r.name, pid: r.pid, signal: r.signal, result: r.result, signalled: r.signalled })
}
