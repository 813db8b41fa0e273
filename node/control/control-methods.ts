/**
 * The control API methods that act on TARGETs: resolve the target in the mesh
 * view, answer for this node directly (acting as itself) and forward to peers over
 * the mesh protocols (where the peer's own roles decide).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { CONTROL_API } from '../../protocols/control-api.js'
import type { HistoryEntry, KillResult, LogsResult, PsEntry, RunResult } from '../../protocols/control.js'
import { ProcmeshError, checkAnswer, toProcmeshError } from '../../protocols/errors.js'
import {
  HISTORY, LIST, LOGS, START, STOP, validateHistoryRequest, validateLogChunk,
  type ListRequest, type ListResult, type ListTop, type LogsEnd, type StartResult, type StopResult
} from '../../protocols/messages.js'
import type { PeerEntry } from '../../protocols/types.js'
import { handle, type RpcHandler } from './control-server.js'
import type { HostServices } from '../host/host-services.js'
import type { ProcmeshLibp2p } from '../mesh/libp2p.js'
import { request, type RequestOptions } from '../mesh/reqresp.js'
import { resolveTargets } from '../mesh/targets.js'

/** Per-peer timeout of a fan-out query: one slow peer must not hold up the answer for long. */
export const FAN_OUT_TIMEOUT_MS = 10_000
/** A follow lasts until the process exits or the client leaves; this only bounds a forgotten one. */
export const FOLLOW_TIMEOUT_MS = 24 * 60 * 60 * 1000

export interface MethodDeps {
  libp2p: ProcmeshLibp2p
  services: HostServices
  peers: () => PeerEntry[]
  selfId: () => string
}

type Forward = <Req, Res>(peer: PeerEntry, desc: Parameters<typeof request<Req, Res>>[2], req: Req, opts?: RequestOptions) => Promise<Res>

function single (target: string, peers: PeerEntry[], verb: string): PeerEntry {
  const { peers: matched, fanOut } = resolveTargets(target, peers)
  if (matched.length !== 1 || fanOut) {
    throw new ProcmeshError('INVALID_REQUEST', `${verb} needs exactly one target; ${JSON.stringify(target)} matches ${matched.length}`)
  }
  return matched[0]
}

export function registerTargetMethods (handlers: Map<string, RpcHandler>, deps: MethodDeps): void {
  const forward: Forward = async (peer, desc, req, opts = {}) => {
    if (peer.status === 'offline') throw new ProcmeshError('PEER_OFFLINE', `${peer.name} is offline (last seen ${new Date(peer.lastSeen).toISOString()})`)
    return await request(deps.libp2p, peerIdFromString(peer.peerId), desc, req, opts)
  }

  const list = async (peer: PeerEntry, filter: string | undefined, timeoutMs?: number, top?: ListTop): Promise<ListResult> => {
    const req: ListRequest = { type: 'list', filter, ...(top !== undefined ? { top } : {}) }
    if (peer.self) return await deps.services.list(req)
    return await forward(peer, LIST, req, { timeoutMs })
  }

  handle(handlers, CONTROL_API.ps, async (params, ctx) => {
    const { peers } = resolveTargets(params.target, deps.peers())
    const entries = await Promise.all(peers.map(async (peer): Promise<PsEntry> => {
      let entry: PsEntry
      try {
        const result = await list(peer, params.filter, FAN_OUT_TIMEOUT_MS, params.top)
        entry = { peerId: peer.peerId, name: peer.name, collectedAt: result.collectedAt, processes: result.processes, ...(result.total !== undefined ? { total: result.total } : {}) }
      } catch (err: unknown) {
        entry = { peerId: peer.peerId, name: peer.name, error: toProcmeshError(err).toJSON() }
      }
      ctx.notify(entry)
      return entry
    }))
    return params.streamed === true ? entries.map(e => 'error' in e ? e : { ...e, processes: [] }) : entries
  })

  handle(handlers, CONTROL_API.history, async (params, ctx) => {
    // the same fields as the protocol's request (`since`, or a range: from, to, points, at, top, events, filter)
    const req = validateHistoryRequest({ ...params, target: undefined, type: 'history' })
    const { peers } = resolveTargets(params.target, deps.peers())
    return await Promise.all(peers.map(async (peer): Promise<HistoryEntry> => {
      let entry: HistoryEntry
      try {
        const history = peer.self ? deps.services.history(req) : await forward(peer, HISTORY, req, { timeoutMs: FAN_OUT_TIMEOUT_MS })
        if (req.from !== undefined && history.range === undefined) throw new ProcmeshError('SERVER_ERROR', `${peer.name} runs a procmesh without durable history (it answered only its recent samples)`)
        entry = { peerId: peer.peerId, name: peer.name, history }
      } catch (err: unknown) {
        entry = { peerId: peer.peerId, name: peer.name, error: toProcmeshError(err).toJSON() }
      }
      ctx.notify(entry)
      return entry
    }))
  })

  handle(handlers, CONTROL_API.run, async (params): Promise<RunResult> => {
    const peer = single(params.target, deps.peers(), 'run')
    const req = START.validateRequest({
      type: 'start',
      requestId: params.requestId ?? `local-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
      argv: params.argv,
      cwd: params.cwd,
      env: params.env
    })
    let result: StartResult
    if (peer.self) {
      result = await deps.services.control.start(req, deps.selfId())
    } else {
      try {
        result = await forward(peer, START, req)
      } catch (err: unknown) {
        // the request id makes a retry safe: the target returns the same process
        if (!(err instanceof ProcmeshError) || err.code !== 'UNAVAILABLE') throw err
        result = await forward(peer, START, req)
      }
    }
    return { peerId: peer.peerId, name: peer.name, ...result }
  })

  handle(handlers, CONTROL_API.kill, async (params): Promise<KillResult> => {
    const peer = single(params.target, deps.peers(), 'kill')
    const { pid, graceMs } = params
    const signal = params.signal ?? 'TERM'
    const tree = params.tree ?? false
    let startTime = params.startTime
    if (startTime === undefined && pid > 1) {
      // the caller did not see the process: look its start time up now, so a stop still names one process
      const listed = await list(peer, undefined)
      const found = listed.processes.find(p => p.pid === pid)
      if (found === undefined) throw new ProcmeshError('NOT_FOUND', `pid ${pid} not found on ${peer.name}`)
      startTime = found.startTime
    }
    const req = STOP.validateRequest({ type: 'stop', pid, startTime: startTime ?? 0, signal, tree, graceMs })
    const result: StopResult = peer.self
      ? await deps.services.control.stop(req, deps.selfId())
      : await forward(peer, STOP, req, { timeoutMs: (graceMs ?? 0) + STOP.readDeadlineMs + 10_000 })
    return { peerId: peer.peerId, name: peer.name, ...result }
  })

  handle(handlers, CONTROL_API.logs, async (params, ctx): Promise<LogsResult> => {
    const peer = single(params.target, deps.peers(), 'logs')
    const req = LOGS.validateRequest({ type: 'logs', managedId: params.managedId, follow: params.follow ?? false })
    let end: LogsEnd
    if (peer.self) {
      end = await deps.services.control.logs(req, async chunk => { ctx.notify(chunk) }, ctx.signal)
    } else {
      end = await forward(peer, LOGS, req, {
        signal: ctx.signal,
        timeoutMs: req.follow ? FOLLOW_TIMEOUT_MS : undefined,
        onMore: chunk => { ctx.notify(checkAnswer(() => validateLogChunk(chunk))) }
      })
    }
    return { peerId: peer.peerId, name: peer.name, ...end }
  })
}
