/**
 * The control API methods that act on TARGETs: resolve the target in the mesh
 * view, answer for this node directly (acting as itself) and forward to peers over
 * the mesh protocols (where the peer's own roles decide).
 */
import { CONTROL_API } from '../../protocols/control-api.js'
import type { HistoryEntry, KillResult, LogsResult, LsEntry, PsEntry, RestartResultEntry, RmResult, RunEntry, RunResult } from '../../protocols/control.js'
import { findManaged } from '../../protocols/managed.js'
import { ProcmeshError, checkAnswer, toProcmeshError } from '../../protocols/errors.js'
import { FOLLOW_QUEUE_WAIT_MS } from '../../protocols/limits.js'
import {
  HISTORY, LIST, LOGS, LOGS_FOLLOW, MANAGED, REMOVE, RESTART, START, STOP, validateHistoryRequest, validateLogChunk,
  type ListRequest, type ListResult, type ListTop, type LogsEnd, type ManagedResult, type RemoveResult, type RestartResult, type StartResult, type StopResult
} from '../../protocols/messages.js'
import type { PeerEntry } from '../../protocols/types.js'
import { handle, type RpcHandler } from './control-server.js'
import type { HostServices } from '../host/host-services.js'
import type { ProcmeshLibp2p } from '../mesh/libp2p.js'
import { NotServedError, UndeliveredError, type RequestOptions } from '../mesh/reqresp.js'
import type { ProtocolDescriptor } from '../../protocols/wire.js'
import { askEach, askPeer } from './fan-out.js'
import { resolveTargets, type ResolveOptions } from '../mesh/targets.js'

/** Per-peer timeout of a fan-out query: one slow peer must not hold up the answer for long. */
export const FAN_OUT_TIMEOUT_MS = 10_000
/** A follow lasts until the process exits or the client leaves; this only bounds a forgotten one. */
export const FOLLOW_TIMEOUT_MS = 24 * 60 * 60 * 1000

export interface MethodDeps {
  libp2p: ProcmeshLibp2p
  services: HostServices
  peers: () => PeerEntry[]
  selfId: () => string
  /** the name the trust file records for a peer (breaks a tie between nodes claiming one name) */
  trustedName?: (peerId: string) => string | undefined
}

type Forward = <Req, Res>(peer: PeerEntry, desc: ProtocolDescriptor<Req, Res>, req: Req, opts?: RequestOptions) => Promise<Res>

/**
 * The one peer of a single-host command. `all` and `tag:` are group targets even
 * when one host matches (what they match changes as hosts come and go), so they are
 * refused with the hosts they match and the command to use instead.
 */
function single (target: string, peers: PeerEntry[], verb: string, groupHint: string, opts: ResolveOptions = {}): PeerEntry {
  const { peers: matched, fanOut } = resolveTargets(target, peers, opts)
  if (!fanOut && matched.length === 1) return matched[0]
  const names = matched.map(p => p.name)
  const which = matched.length === 0 ? 'matches no host' : `is a group target (it matches ${matched.length === 1 ? 'host' : 'hosts'} ${names.join(', ')})`
  throw new ProcmeshError('INVALID_REQUEST', `${verb} works on one host and ${JSON.stringify(target)} ${which}; name one host${groupHint}`)
}

/** A start is sent at most this many times (same request id) when its answer is lost. */
export const START_ATTEMPTS = 2

/** Failures after which the same request may be tried again: the target or the way to it, not a verdict. */
export function isTransient (err: unknown): boolean {
  return err instanceof ProcmeshError && (err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT' || err.code === 'OUTCOME_UNKNOWN')
}

/** Fan-out start: the matched peers, at most this many starts in flight at once. */
export const RUN_FAN_OUT_CONCURRENCY = 32

/** Run `fn` over `items`, at most `limit` at a time (order of completion, not of items). */
async function boundedEach<T> (items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

export function registerTargetMethods (handlers: Map<string, RpcHandler>, deps: MethodDeps): void {
  const forward: Forward = async (peer, desc, req, opts = {}) => await askPeer(deps.libp2p, peer, desc, req, opts)

  const list = async (peer: PeerEntry, filter: string | undefined, timeoutMs?: number, top?: ListTop): Promise<ListResult> => {
    const req: ListRequest = { type: 'list', filter, ...(top !== undefined ? { top } : {}) }
    if (peer.self) return await deps.services.list(req)
    return await forward(peer, LIST, req, { timeoutMs })
  }

  handle(handlers, CONTROL_API.ps, async (params, ctx) => {
    const { peers } = resolveTargets(params.target, deps.peers(), deps)
    const entries: PsEntry[] = await askEach(peers, async peer => {
      const result = await list(peer, params.filter, params.hostTimeoutMs ?? FAN_OUT_TIMEOUT_MS, params.top)
      return { collectedAt: result.collectedAt, processes: result.processes, ...(result.total !== undefined ? { total: result.total } : {}) }
    }, e => { ctx.notify(e) })
    return params.streamed === true ? entries.map(e => 'error' in e ? e : { ...e, processes: [] }) : entries
  })

  handle(handlers, CONTROL_API.history, async (params, ctx) => {
    // the same fields as the protocol's request (`since`, or a range: from, to, points, at, top, events, filter)
    const req = validateHistoryRequest({ ...params, target: undefined, type: 'history' })
    const { peers } = resolveTargets(params.target, deps.peers(), deps)
    const entries: HistoryEntry[] = await askEach(peers, async peer => {
      const history = peer.self ? deps.services.history(req) : await forward(peer, HISTORY, req, { timeoutMs: FAN_OUT_TIMEOUT_MS })
      if (req.from !== undefined && history.range === undefined) throw new ProcmeshError('SERVER_ERROR', `${peer.name} runs a procmesh without durable history (it answered only its recent samples)`)
      return { history }
    }, e => { ctx.notify(e) })
    return entries
  })

  const startOn = async (peer: PeerEntry, req: ReturnType<typeof START.validateRequest>): Promise<RunResult> => {
    let result: StartResult
    if (peer.self) {
      result = await deps.services.control.start(req, deps.selfId())
    } else {
      // the request id makes a retry safe: the target returns the same process
      let delivered = false
      let last: unknown
      result = await (async () => {
        for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
          try {
            return await forward(peer, START, req)
          } catch (err: unknown) {
            last = err
            if (!isTransient(err)) break
            // a start that reached the target and got no answer may have happened
            if (!(err instanceof UndeliveredError)) delivered = true
          }
        }
        if (delivered && isTransient(last)) {
          throw new ProcmeshError('OUTCOME_UNKNOWN', `${peer.name} may or may not have started it (request ${req.requestId}): ${toProcmeshError(last).message}`)
        }
        throw last
      })()
    }
    return { peerId: peer.peerId, name: peer.name, ...result }
  }

  /**
   * `run`: one host -> its RunResult. `all` / `tag:K=V` -> one RunEntry per matching
   * host (each host checks the caller's roles itself), streamed as notifications as
   * they arrive, then all of them as an array. The same request id goes to every host:
   * each deduplicates its own retries.
   */
  handle(handlers, CONTROL_API.run, async (params, ctx): Promise<RunResult | RunEntry[]> => {
    const target = params.target
    const req = START.validateRequest({
      type: 'start',
      requestId: params.requestId ?? `local-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
      argv: params.argv,
      cwd: params.cwd,
      env: params.env,
      ...(params.name !== undefined ? { name: params.name } : {}),
      ...(params.policy !== undefined ? { policy: params.policy } : {})
    })
    const { peers, fanOut } = resolveTargets(target, deps.peers(), deps)
    if (!fanOut) return await startOn(single(target, deps.peers(), 'run', '', deps), req)
    if (peers.length === 0) throw new ProcmeshError('UNKNOWN_PEER', `no host matches ${JSON.stringify(target)}`)
    const entries: RunEntry[] = []
    await boundedEach(peers, RUN_FAN_OUT_CONCURRENCY, async peer => {
      let entry: RunEntry
      try {
        entry = await startOn(peer, req)
      } catch (err: unknown) {
        entry = { peerId: peer.peerId, name: peer.name, error: toProcmeshError(err).toJSON() }
      }
      entries.push(entry)
      ctx.notify(entry)
    })
    return entries
  })

  handle(handlers, CONTROL_API.kill, async (params): Promise<KillResult> => {
    const peer = single(params.target, deps.peers(), 'kill', ' (to stop processes on every host of a group, use kill TARGET --filter TEXT)', deps)
    const { ref, graceMs } = params
    const signal = params.signal ?? 'TERM'
    const tree = params.tree ?? false
    let pid: number
    let startTime = params.startTime
    if (ref !== undefined) {
      // a managed id or name: its running process, as the target's supervisor knows it
      const m = findManaged((await managedOf(peer)).processes, ref)
      if (m === undefined) throw new ProcmeshError('NOT_FOUND', `no managed process ${ref} on ${peer.name}`)
      if (m.state !== 'running') throw new ProcmeshError('NOT_FOUND', `${ref} on ${peer.name} is not running (state ${m.state}); procmesh rm ${peer.name} ${ref} forgets it`)
      pid = m.pid
      startTime = m.startTime
    } else if (params.pid !== undefined) {
      pid = params.pid
    } else {
      throw new ProcmeshError('INVALID_REQUEST', 'pid: give a pid or a ref')
    }
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
    return { peerId: peer.peerId, name: peer.name, ...result, escalated: result.escalated ?? false }
  })

  const managedOf = async (peer: PeerEntry, timeoutMs?: number): Promise<ManagedResult> => {
    if (peer.self) return deps.services.managed()
    return await forward(peer, MANAGED, { type: 'managed' }, { timeoutMs })
  }

  handle(handlers, CONTROL_API.ls, async (params, ctx): Promise<LsEntry[]> => {
    const { peers } = resolveTargets(params.target, deps.peers(), deps)
    return await askEach(peers, async peer => ({ processes: (await managedOf(peer, FAN_OUT_TIMEOUT_MS)).processes }), e => { ctx.notify(e) })
  })

  handle(handlers, CONTROL_API.restart, async (params): Promise<RestartResultEntry> => {
    const peer = single(params.target, deps.peers(), 'restart', '', deps)
    const req = RESTART.validateRequest({ type: 'restart', ref: params.ref })
    const result: RestartResult = peer.self
      ? await deps.services.control.restart(req, deps.selfId())
      : await forward(peer, RESTART, req)
    return { peerId: peer.peerId, name: peer.name, ...result }
  })

  handle(handlers, CONTROL_API.rm, async (params): Promise<RmResult> => {
    const peer = single(params.target, deps.peers(), 'rm', '', deps)
    const req = REMOVE.validateRequest({ type: 'remove', ref: params.ref })
    const result: RemoveResult = peer.self
      ? await deps.services.control.remove(req, deps.selfId())
      : await forward(peer, REMOVE, req)
    return { peerId: peer.peerId, name: peer.name, managedId: result.managedId, managedName: result.name, stopped: result.stopped }
  })

  handle(handlers, CONTROL_API.logs, async (params, ctx): Promise<LogsResult> => {
    const peer = single(params.target, deps.peers(), 'logs', '', deps)
    const req = LOGS.validateRequest({ type: 'logs', managedId: params.managedId, follow: params.follow ?? false })
    let end: LogsEnd
    if (peer.self) {
      end = await deps.services.control.logs(req, async chunk => { ctx.notify(chunk) }, ctx.signal)
    } else {
      const opts: RequestOptions = {
        signal: ctx.signal,
        onMore: chunk => { ctx.notify(checkAnswer(() => validateLogChunk(chunk))) }
      }
      if (!req.follow) {
        end = await forward(peer, LOGS, req, opts)
      } else {
        // a follow over its own protocol, so it never holds one of the few plain LOGS streams
        try {
          end = await forward(peer, LOGS_FOLLOW, req, { ...opts, timeoutMs: FOLLOW_TIMEOUT_MS, queueWaitMs: FOLLOW_QUEUE_WAIT_MS })
        } catch (err: unknown) {
          // a node from before logs-follow: follow over LOGS as it did
          if (!(err instanceof NotServedError)) throw err
          end = await forward(peer, LOGS, req, { ...opts, timeoutMs: FOLLOW_TIMEOUT_MS, queueWaitMs: FOLLOW_QUEUE_WAIT_MS })
        }
      }
    }
    return { peerId: peer.peerId, name: peer.name, ...end }
  })
}

