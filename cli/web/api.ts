/**
 * The JSON API's handlers: each turns validated input into one control-API call
 * on the local node and its answer into the CLI contract's JSON. No HTTP here;
 * the server maps thrown errors to statuses.
 */
import { randomUUID } from 'node:crypto'
import type { HistoryEntry, HistoryParams, KillParams, LogsResult, LsEntry, PsParams, RestartParams, RunParams } from '../../protocols/control.js'
import { MAX_WEB_LOGS_BYTES } from '../../protocols/limits.js'
import type { LogChunk } from '../../protocols/messages.js'
import { ProcmeshError } from '../../protocols/errors.js'
import type { HistoryPoint } from '../../protocols/messages.js'
import type { PeerEntry } from '../../protocols/types.js'
import type { ControlClient } from '../control-client.js'
import { peerJson } from '../peer-view.js'
import { isGroupTarget, psEntryJson, selectProcesses } from '../process-view.js'
import type { DeploymentJson, HistoryEntryJson, LogChunkJson, LogsEndJson, LogsJson, ManagedEntryJson, RestartJson } from './api-types.js'
import { HttpError, STATUS_BY_CODE } from './http-errors.js'
import type { HistoryQuery, LogsQuery, ProcessesQuery } from './requests.js'

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
  checkLoneTarget(query.target, entries)
  const select = { filter: query.filter, sort: query.sort, limit: query.limit }
  return ok(entries.map(e => 'error' in e ? psEntryJson(e) : psEntryJson(e, selectProcesses(e.processes, select).processes)))
}

/** A lone target (not `all` or `tag:`) that matched nothing or failed answers its error, as the CLI exits 1. */
function checkLoneTarget (target: string, entries: ReadonlyArray<{ name: string } | { name: string, error: { code: ProcmeshError['code'], message: string } }>): void {
  if (isGroupTarget(target)) return
  if (entries.length === 0) throw new ProcmeshError('UNKNOWN_PEER', `no peer matched ${JSON.stringify(target)}`)
  const only = entries[0]
  if (entries.length === 1 && 'error' in only) throw new HttpError(STATUS_BY_CODE[only.error.code], only.error.code, `${only.name}: ${only.error.message}`)
}

/** `GET /api/managed`: as `procmesh ls TARGET --json`, one entry per target peer (a lone failed target answers its error). */
export async function getManaged (node: WithNode, target: string, signal?: AbortSignal): Promise<ApiResponse> {
  const entries = await node(async c => await c.ls({ target }, { signal }))
  checkLoneTarget(target, entries)
  return ok(entries satisfies ManagedEntryJson[])
}

export async function fetchManaged (node: WithNode): Promise<LsEntry[]> {
  return await node(async c => await c.ls({ target: 'all' }))
}

/** `POST /api/managed/{host}/{ref}/restart`: as `procmesh restart --json` (the target checks the caller's exec role). */
export async function restartManaged (node: WithNode, params: RestartParams): Promise<ApiResponse> {
  if (isGroupTarget(params.target)) {
    throw new ProcmeshError('INVALID_REQUEST', `host: a restart names exactly one host; ${JSON.stringify(params.target)} is a group target`)
  }
  const r = await node(async c => await c.restart(params))
  return ok({ peerId: r.peerId, name: r.name, managedId: r.managedId, pid: r.pid, startTime: r.startTime } satisfies RestartJson)
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

/**
 * One host's history: `{ peerId, name, intervalMs, memTotal, points }` (at most maxPoints)
 * plus, for a range, `range` and the top processes (`top`, or `atSample` with `at`);
 * `{ peerId, name, error }` for a host that failed.
 */
export function historyEntryJson (entry: HistoryEntry, maxPoints: number): HistoryEntryJson {
  const { peerId, name } = entry
  if ('error' in entry) return { peerId, name, error: { code: entry.error.code, message: entry.error.message } }
  const h = entry.history
  return {
    peerId,
    name,
    intervalMs: h.intervalMs,
    memTotal: h.memTotal,
    points: downsample(h.points, maxPoints),
    ...(h.range !== undefined ? { range: h.range } : {}),
    ...(h.top !== undefined ? { top: h.top } : {}),
    ...(h.atSample !== undefined ? { atSample: h.atSample } : {})
  }
}

/**
 * `GET /api/history`: each target's host samples (CPU, memory, load, process count):
 * the recent ones kept in memory (`since`), or a range of the durable history with the
 * top processes over it or at a time.
 */
export async function getHistory (node: WithNode, query: HistoryQuery, signal?: AbortSignal): Promise<ApiResponse> {
  const { points, ...params } = query
  const request: HistoryParams = 'from' in params ? { ...params, points } : params
  const entries = await node(async c => await c.history(request, { signal }))
  return ok(entries.map(e => historyEntryJson(e, points)))
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

/**
 * The last `max` bytes (UTF-8) of a process's output, in order; `dropped` when earlier
 * output did not fit. Pure.
 */
export function keepLastOutput (chunks: readonly LogChunk[], max: number): { output: LogChunkJson[], dropped: boolean } {
  const out: LogChunkJson[] = []
  let size = 0
  for (let i = chunks.length - 1; i >= 0; i--) {
    const c = chunks[i]
    const bytes = Buffer.byteLength(c.data)
    if (size + bytes <= max) {
      out.push({ stream: c.stream, data: c.data })
      size += bytes
      continue
    }
    // the part of this chunk that still fits: its last characters
    const room = max - size
    if (room > 0) {
      const tail = Buffer.from(c.data).subarray(bytes - room).toString('utf8').replace(/^\uFFFD+/, '')
      if (tail !== '') out.push({ stream: c.stream, data: tail })
    }
    return { output: out.reverse(), dropped: true }
  }
  return { output: out.reverse(), dropped: false }
}

export function logsEndJson (r: LogsResult, truncated: boolean): LogsEndJson {
  return { peerId: r.peerId, name: r.name, exited: r.exited, exitCode: r.exitCode, signal: r.signal, truncated: r.truncated || truncated }
}

/** `GET /api/logs?host=&id=`: as `procmesh logs TARGET ID --json`, the output kept, at most MAX_WEB_LOGS_BYTES of it (the last). */
export async function getLogs (node: WithNode, query: LogsQuery, signal?: AbortSignal): Promise<ApiResponse> {
  const chunks: LogChunk[] = []
  let size = 0
  let dropped = false
  const r = await node(async c => await c.logs({ target: query.target, managedId: query.ref, follow: false }, {
    signal,
    onData: chunk => {
      chunks.push(chunk)
      size += Buffer.byteLength(chunk.data)
      // bound what is held while the answer arrives, not only what is sent
      if (size > 2 * MAX_WEB_LOGS_BYTES) {
        const kept = keepLastOutput(chunks, MAX_WEB_LOGS_BYTES)
        chunks.splice(0, chunks.length, ...kept.output)
        size = kept.output.reduce((n, ch) => n + Buffer.byteLength(ch.data), 0)
        dropped = true
      }
    }
  }))
  const kept = keepLastOutput(chunks, MAX_WEB_LOGS_BYTES)
  return ok({ ...logsEndJson(r, dropped || kept.dropped), output: kept.output } satisfies LogsJson)
}

/**
 * `GET /api/logs?host=&id=&follow=1`: the kept output, then each new piece, through
 * `send` until the process exits (resolves with the end) or `signal` aborts.
 */
export async function followLogs (node: WithNode, query: LogsQuery, send: (chunk: LogChunkJson) => void, signal: AbortSignal): Promise<LogsEndJson> {
  const r = await node(async c => await c.logs({ target: query.target, managedId: query.ref, follow: true }, {
    signal,
    onData: chunk => { send({ stream: chunk.stream, data: chunk.data }) }
  }))
  return logsEndJson(r, false)
}

/** `GET /api/deployments[?name=NAME]`: as `procmesh deployments [NAME] --json`. */
export async function getDeployments (node: WithNode, name: string | undefined, signal?: AbortSignal): Promise<ApiResponse> {
  const list = await node(async c => await c.deployments(name !== undefined ? { name } : {}, { signal }))
  return ok(list satisfies DeploymentJson[])
}
