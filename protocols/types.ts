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
  /** kernel threads of the process (absent where the platform does not say) */
  threads?: number
  /** -20 (most favoured) .. 19 */
  nice?: number
  /** top's PR: 20 + nice for normal tasks, negative for real-time ones */
  priority?: number
  /** CPU time used since the process started, user + system, seconds (htop's TIME+) */
  cpuTime?: number
  /** over the answering host's process limits (see protocols/thresholds.ts) */
  alert?: AlertLevel
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
  /** memTotal - MemAvailable (see node/host/proc-parse.ts parseMeminfo for how this differs from `free`) */
  memUsed: number
  /** seconds since boot */
  uptime: number
  // Optional figures: Linux hosts report them; other platforms and older nodes may not.
  /** CPU% of each core, 0..100, rounded */
  cores?: number[]
  /** MemAvailable, bytes */
  memAvailable?: number
  /** Buffers + Cached + SReclaimable (`free`'s buff/cache), bytes */
  memCached?: number
  swapTotal?: number
  swapUsed?: number
  /** data filesystems, as df lists them */
  disks?: DiskUsage[]
  /** bytes per second over the last interval: whole disks, and every interface but loopback */
  io?: HostIo
  /** file handles open on the host (/proc/sys/fs/file-nr) */
  openFiles?: number
  /** sockets in use (/proc/net/sockstat) */
  sockets?: number
  /** figures over this host's limits (see protocols/thresholds.ts) */
  alerts?: HostAlert[]
}

export interface DiskUsage {
  mount: string
  fstype: string
  /** bytes */
  total: number
  used: number
  /** free to unprivileged users: df's Avail */
  avail: number
}

export interface HostIo { diskRead: number, diskWrite: number, netRx: number, netTx: number }

/** Glances' three levels of attention. */
export type AlertLevel = 'careful' | 'warning' | 'critical'

export interface HostAlert {
  /** cpu, mem, swap and disk in percent; load per core */
  metric: 'cpu' | 'mem' | 'swap' | 'load' | 'disk'
  /** the mount point, for disk */
  mount?: string
  level: AlertLevel
  value: number
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
