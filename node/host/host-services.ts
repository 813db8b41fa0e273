/**
 * What this host offers the mesh, independent of how a request arrived: over a
 * libp2p stream from a peer (authorised in reqresp.ts) or from the local control
 * socket (acting as this node). Both doors end here.
 */
import type { ManagedProcess } from '../../protocols/managed.js'
import type {
  HistoryRequest, HistoryResult, ListRequest, ListResult, LogChunk, LogsEnd, LogsRequest, ManagedResult,
  RemoveRequest, RemoveResult, RestartRequest, RestartResult, StartRequest, StartResult, StopRequest, StopResult
} from '../../protocols/messages.js'
import { compareProcesses, matchesFilter } from '../../protocols/processes.js'
import type { ProcessInfo } from '../../protocols/types.js'
import type { HistoryRing } from './history.js'
import type { HistoryRecorder } from './history/recorder.js'
import { ProcmeshError } from '../../protocols/errors.js'
import type { SharedSampler } from './sampler.js'

export interface ManagedMark { managedId: string, startedBy: string, startTime?: number, name?: string | null }

/** The process-control side (supervisor + stop logic), provided by the supervisor module. */
export interface ProcessControl {
  start: (req: StartRequest, requestedBy: string) => Promise<StartResult>
  stop: (req: StopRequest, requestedBy: string) => Promise<StopResult>
  logs: (req: LogsRequest, onChunk: (chunk: LogChunk) => Promise<void>, signal: AbortSignal) => Promise<LogsEnd>
  managedByPid: () => Map<number, ManagedMark>
  /** the managed records (CPU and RSS are added by HostServices from the latest sample) */
  managed: () => ManagedProcess[]
  restart: (req: RestartRequest, requestedBy: string) => Promise<RestartResult>
  remove: (req: RemoveRequest, requestedBy: string) => Promise<RemoveResult>
}

export class HostServices {
  private readonly sampler: SharedSampler
  private readonly ring: HistoryRing
  private readonly recorder?: HistoryRecorder
  readonly control: ProcessControl
  /** peer id -> display name, for marking who started a managed process */
  private readonly nameOf: (peerId: string) => string | undefined

  constructor (init: { sampler: SharedSampler, history: HistoryRing, recorder?: HistoryRecorder, control: ProcessControl, nameOf: (peerId: string) => string | undefined }) {
    this.sampler = init.sampler
    this.ring = init.history
    this.recorder = init.recorder
    // a list right after a start or stop on this host must show it: invalidate the last scan
    const changed = <T>(result: T): T => { this.sampler.invalidate(); return result }
    this.control = {
      ...init.control,
      start: async (req, by) => changed(await init.control.start(req, by)),
      stop: async (req, by) => changed(await init.control.stop(req, by)),
      restart: async (req, by) => changed(await init.control.restart(req, by)),
      remove: async (req, by) => changed(await init.control.remove(req, by))
    }
    this.nameOf = init.nameOf
  }

  async list (req: ListRequest): Promise<ListResult> {
    const snap = await this.sampler.fresh()
    const managed = this.control.managedByPid()
    const processes: ProcessInfo[] = []
    for (const p of snap.processes) {
      if (!matchesFilter(p, req.filter)) continue
      const m = managed.get(p.pid)
      // a reused pid is not the managed process: the start time must match too
      if (m === undefined || (m.startTime !== undefined && m.startTime !== p.startTime)) { processes.push(p); continue }
      const name = this.nameOf(m.startedBy)
      processes.push({
        ...p,
        managedId: m.managedId,
        startedBy: name !== undefined ? `${name} (${m.startedBy})` : m.startedBy,
        ...(m.name !== undefined && m.name !== null ? { managedName: m.name } : {})
      })
    }
    if (req.top === undefined) return { collectedAt: snap.collectedAt, processes: this.sampler.exactRss(processes) }
    // the busiest first, in exactly the order every view sorts by that key
    const top = processes.sort(compareProcesses(req.top.by)).slice(0, req.top.n)
    return { collectedAt: snap.collectedAt, processes: this.sampler.exactRss(top), total: processes.length }
  }

  /** The managed records with the CPU and RSS of their running processes from the latest sample. */
  managed (): ManagedResult {
    const byPid = new Map((this.sampler.latest?.processes ?? []).map(p => [p.pid, p]))
    const processes = this.control.managed().map(m => {
      const p = m.state === 'running' ? byPid.get(m.pid) : undefined
      return p !== undefined && p.startTime === m.startTime ? { ...m, cpuPercent: p.cpuPercent, rss: p.rss } : m
    })
    return { processes }
  }

  /** `since` (or nothing): the in-memory ring; `from`/`to`: a range of the durable history. */
  history (req: HistoryRequest): HistoryResult {
    if (req.from === undefined) return this.ring.query(req.since)
    if (this.recorder === undefined) throw new ProcmeshError('SERVER_ERROR', 'this node records no durable history')
    return this.recorder.query(req)
  }
}

