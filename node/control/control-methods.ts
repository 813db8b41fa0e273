/**
 * The control API methods that act on TARGETs: resolve the target in the mesh
 * view, answer for this node directly (acting as itself) and forward to peers over
 * the mesh protocols (where the peer's own roles decide).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import {
  CONTROL_METHODS, type KillParams, type KillResult, type LogsParams, type LogsResult,
  type PsEntry, type RunParams, type RunResult
} from '../../protocols/control.js'
import { ProcmeshError, toProcmeshError } from '../../protocols/errors.js'
import {
  HISTORY, LIST, LOGS, SIGNALS, START, STOP, validateHistoryRequest, validateListTop, validateLogChunk, type ListRequest, type ListTop,
  type HistoryResult, type ListResult, type LogsEnd, type StartResult, type StopResult
} from '../../protocols/messages.js'
import type { PeerEntry } from '../../protocols/types.js'
import { expectBoolean, expectInt, expectNumber, expectOneOf, expectRecord, expectString, optional } from '../../protocols/validate.js'
import type { RpcContext, RpcHandler } from './control-server.js'
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

function targetOf (params: Record<string, unknown>): string {
  return optional(params.target, v => expectString(v, 'target', { maxBytes: 256 })) ?? 'self'
}

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

  handlers.set(CONTROL_METHODS.ps, async (raw: unknown, ctx: RpcContext) => {
    const params = expectRecord(raw ?? {}, 'params')
    const filter = optional(params.filter, v => expectString(v, 'filter', { maxBytes: 256 }))
    const streamed = optional(params.streamed, v => expectBoolean(v, 'streamed')) ?? false
    const top = optional(params.top, v => validateListTop(v, 'top'))
    const { peers } = resolveTargets(targetOf(params), deps.peers())
    const entries = await Promise.all(peers.map(async (peer): Promise<PsEntry> => {
      let entry: PsEntry
      try {
        const result = await list(peer, filter, FAN_OUT_TIMEOUT_MS, top)
        entry = { peerId: peer.peerId, name: peer.name, collectedAt: result.collectedAt, processes: result.processes, ...(result.total !== undefined ? { total: result.total } : {}) }
      } catch (err: unknown) {
        entry = { peerId: peer.peerId, name: peer.name, error: toProcmeshError(err).toJSON() }
      }
      ctx.notify(entry)
      return entry
    }))
    return streamed ? entries.map(e => 'error' in e ? e : { ...e, processes: [] }) : entries
  })

  handlers.set(CONTROL_METHODS.history, async (raw: unknown, ctx: RpcContext) => {
    const params = expectRecord(raw ?? {}, 'params')
    // the same fields as the protocol's request (a range: from, to, points, at, top, events, filter)
    const req = validateHistoryRequest({ ...params, target: undefined, type: 'history' })
    const { peers } = resolveTargets(targetOf(params), deps.peers())
    return await Promise.all(peers.map(async peer => {
      let entry: { peerId: string, name: string } & ({ history: HistoryResult } | { error: { code: string, message: string } })
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

  handlers.set(CONTROL_METHODS.run, async (raw: unknown): Promise<RunResult> => {
    const params = expectRecord(raw ?? {}, 'params')
    const peer = single(targetOf(params), deps.peers(), 'run')
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

  handlers.set(CONTROL_METHODS.kill, async (raw: unknown): Promise<KillResult> => {
    const params = expectRecord(raw ?? {}, 'params') as Record<string, unknown> & Partial<KillParams>
    const peer = single(targetOf(params), deps.peers(), 'kill')
    const pid = expectInt(params.pid, 'pid')
    const signal = expectOneOf(params.signal ?? 'TERM', 'signal', SIGNALS)
    const tree = optional(params.tree, v => expectBoolean(v, 'tree')) ?? false
    const graceMs = optional(params.graceMs, v => expectInt(v, 'graceMs', { min: 0 }))
    let startTime = optional(params.startTime, v => expectNumber(v, 'startTime', { min: 0 }))
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

  handlers.set(CONTROL_METHODS.logs, async (raw: unknown, ctx: RpcContext): Promise<LogsResult> => {
    const params = expectRecord(raw ?? {}, 'params') as Record<string, unknown> & Partial<LogsParams>
    const peer = single(targetOf(params), deps.peers(), 'logs')
    const req = LOGS.validateRequest({ type: 'logs', managedId: params.managedId, follow: params.follow ?? false })
    let end: LogsEnd
    if (peer.self) {
      end = await deps.services.control.logs(req, async chunk => { ctx.notify(chunk) }, ctx.signal)
    } else {
      end = await forward(peer, LOGS, req, {
        signal: ctx.signal,
        timeoutMs: req.follow ? FOLLOW_TIMEOUT_MS : undefined,
        onMore: chunk => { ctx.notify(validateLogChunk(chunk)) }
      })
    }
    return { peerId: peer.peerId, name: peer.name, ...end }
  })
}
