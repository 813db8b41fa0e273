/** Shapes shared by the node, the wire and the CLI (`--json` fields of the CLI contract). */

export interface ProcessInfo {
  pid: number
  ppid: number
  /** numeric uid; `user` is its name where it could be resolved */
  uid: number
  user: string
  name: string
  /** full command line, arguments joined by spaces; `[name]` for kernel threads */
  cmd: string
  /** one-letter kernel state: R S D Z T t X I ... */
  state: string
  /** percent of one core over the last sampling interval */
  cpuPercent: number
  /** resident set size in bytes */
  rss: number
  /** ms since the epoch */
  startTime: number
  /** set for processes started through the mesh */
  managedId?: string
  /** peer id (and name, where known) that started a managed process */
  startedBy?: string
  /** the managed process's name (`procmesh run --name`), when it has one */
  managedName?: string
}

export interface HostInfo {
  hostname: string
  platform: string
  arch: string
  cpus: number
  /** percent of all cores together, 0..100 */
  cpuPercent: number
  load: [number, number, number]
  memTotal: number
  memUsed: number
  /** seconds since boot */
  uptime: number
}

export interface Snapshot {
  collectedAt: number
  host: HostInfo
  processes: ProcessInfo[]
}

/** One of the top processes carried in a summary: deliberately small. */
export interface TopProcess {
  pid: number
  name: string
  cpuPercent: number
  rss: number
}

/** What a node gossips every interval. Stays well under MAX_SUMMARY_BYTES. */
export interface Summary {
  v: 1
  peerId: string
  name: string
  tags: Record<string, string>
  /** strictly increasing per node, also across restarts (ms-clock based) */
  seq: number
  /** ms epoch when published, by the author's clock */
  at: number
  /** the author's sampling interval, so viewers judge staleness by it */
  intervalMs: number
  host: HostInfo
  procCount: number
  topCpu: TopProcess[]
  topMem: TopProcess[]
  addrs: string[]
  version: string
}

export type PeerStatus = 'online' | 'stale' | 'offline'

/**
 * How this node reaches a member now: over a direct connection, only through a relay
 * (another member, circuit relay v2), or not at all (no open connection). This node
 * itself is `direct`.
 */
export const PEER_REACH = ['direct', 'relayed', 'unreachable'] as const
export type PeerReach = typeof PEER_REACH[number]

/** An entry of `procmesh peers --json`. */
export interface PeerEntry {
  peerId: string
  name: string
  status: PeerStatus
  lastSeen: number
  tags: Record<string, string>
  addrs: string[]
  self: boolean
  host: HostInfo
  procCount: number
  version: string
  topCpu: TopProcess[]
  topMem: TopProcess[]
  /** the host's sampling interval (ms) */
  intervalMs?: number
  /** when the host figures were sampled, if pulled live for a viewer (`peers` with `live`) */
  liveAt?: number
  /** this node's own entry only: messages it published on the summary topic, and summaries it pulled */
  gossip?: { full: number, delta: number, alive: number, pulls: number, pullFailures: number }
  /** set by the node from its connections (node/mesh/reach.ts); absent from older nodes */
  reach?: PeerReach
}

/** `procmesh id --json` */
export interface IdInfo {
  peerId: string
  name: string
  addrs: string[]
}
