/**
 * The JSON shapes of `procmesh web`'s HTTP API and event stream: the contract between
 * the server (cli/web/api.ts, mesh-events.ts) and the browser page (cli/web/page/),
 * written once. Types only, importing only Node-free modules, so the page's DOM
 * project compiles it too.
 */
import type { ManagedProcess } from '../../protocols/managed.js'
import type { PeerEntry, ProcessInfo } from '../../protocols/types.js'

/** A host: the fields of `procmesh peers --json` the API shows (`reach`: how the dashboard's node reaches it now; older nodes do not say). */
export type HostJson = Pick<PeerEntry, 'peerId' | 'name' | 'status' | 'lastSeen' | 'tags' | 'addrs' | 'self' | 'host' | 'procCount' | 'version' | 'reach'>

export interface ErrorJson { code: string, message: string }

/** `GET /api/processes`: one entry per target host, as `procmesh ps --json`. */
export type PsEntryJson =
  | { peerId: string, name: string, collectedAt: number, processes: ProcessInfo[] }
  | { peerId: string, name: string, error: ErrorJson }

/** `GET /api/managed`: one entry per target host, as `procmesh ls --json`. */
export type ManagedEntryJson =
  | { peerId: string, name: string, processes: ManagedProcess[] }
  | { peerId: string, name: string, error: ErrorJson }

/** `POST /api/managed/{host}/{ref}/restart`: as `procmesh restart --json`. */
export interface RestartJson { peerId: string, name: string, managedId: string, pid: number, startTime: number }

/** A point of a host's series: a sample, or the mean of a bucket of them (`cpuMax`: the highest sample in it). */
export interface HistoryPointJson { at: number, cpuPercent: number, memUsed: number, load1: number, procCount: number, cpuMax?: number }

/** A top process at a time, or over a range (`cpuPercent` its mean there, `cpuMax` its peak). */
export interface HistoryProcessJson { pid: number, startTime: number, name: string, user: string, cpuPercent: number, rss: number, cpuMax?: number, samples?: number }

/**
 * `GET /api/history`: one entry per target host. With `since` (or nothing): the recent
 * samples the node keeps in memory, for sparklines. With a range (`from`, `to`): the
 * durable history, with `range` (absent when the host's node predates durable history),
 * the top processes over the range (`top`) or at `at` (`atSample`).
 */
export type HistoryEntryJson =
  | {
    peerId: string
    name: string
    intervalMs: number
    memTotal: number
    points: HistoryPointJson[]
    range?: { from: number, to: number, bucketMs: number, samples: number, oldest: number | null }
    top?: HistoryProcessJson[]
    atSample?: { at: number, processes: HistoryProcessJson[] }
  }
  | { peerId: string, name: string, error: ErrorJson }

/** One piece of a managed process's output, as `logs --json` prints it. */
export interface LogChunkJson { stream: 'stdout' | 'stderr', data: string }

/**
 * `GET /api/logs` (without follow): the output kept for the process (the last
 * MAX_WEB_LOGS_BYTES of it) and how it ended; `truncated`: earlier output was dropped,
 * by the node's ring buffer or by this answer's cap.
 */
export interface LogsJson {
  peerId: string
  name: string
  output: LogChunkJson[]
  exited: boolean
  exitCode: number | null
  signal: string | null
  truncated: boolean
}

/**
 * `GET /api/logs?follow=1`: server-sent events: `chunk` (a LogChunkJson) for the kept output
 * and then each new piece, `end` (LogsJson without `output`) when the process exits, `error`
 * (ErrorJson) when the node or the target fails after the stream began.
 */
export type LogsEndJson = Omit<LogsJson, 'output'>

/**
 * (Written out rather than imported: protocols/deploy.ts is Node code the page's DOM
 * project cannot compile; api.ts checks that DeploymentStatus fits this shape.)
 * `GET /api/deployments`: as `procmesh deployments --json`, every deployment as the local
 * node sees it: desired vs running copies, where each replica is placed, and `problems`
 * (why replicas cannot be placed, or a roll waits).
 */
export interface DeploymentJson {
  name: string
  version: number
  hash: string
  author: string
  issuedAt: number
  argv: string[]
  selector: string
  replicas: number | 'every'
  spread: number
  restart: string
  /** copies wanted now */
  desired: number
  /** copies of this version running */
  running: number
  /** copies of older versions still running (a roll in progress) */
  old: number
  placed: Array<{ host: string, peerId: string, slot: number, copy: string, state: string }>
  problems: string[]
  /** the local node's own view: whether it runs copies of this spec, and if not why */
  here: string
}

/** `GET /api/info` */
export interface InfoJson { version: string, allowControl: boolean, tokenRequired: boolean }

/**
 * What a managed process did, as the event stream tells it: `exited` (it is not running
 * now: exited, stopped, or waiting for its policy's restart), `restarted` (it exited and
 * its policy already started it again), `crash-loop` (its restart budget is spent).
 */
export type ManagedChange = 'exited' | 'restarted' | 'crash-loop'

/** `GET /api/events`: what the event stream sends (each as `event: TYPE` with the JSON as data). */
export type MeshEvent =
  /** the whole view: sent to each new listener and after the node comes back */
  | { type: 'snapshot', hosts: HostJson[] }
  | { type: 'peer-joined', peer: HostJson }
  | { type: 'peer-left', peerId: string, name: string }
  | { type: 'peer-status', peer: HostJson, previous: string }
  /** a newer summary (figures, last seen, tags, addresses) with the status unchanged */
  | { type: 'summary', peer: HostJson }
  /** the node could not be asked (not running, restarting); the view is unknown until the next snapshot */
  | { type: 'node-error', error: ErrorJson }
  /** a managed process exited or entered crash-loop: `process` is its record now */
  | { type: 'managed', change: ManagedChange, peerId: string, host: string, process: ManagedProcess }
