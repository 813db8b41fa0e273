/**
 * Every limit of procmesh, each with the reason for its value. Code imports these;
 * nothing repeats the numbers.
 */

// ---- gossip ----
/** A summary must stay small: gossip floods every message to every mesh peer. */
export const MAX_SUMMARY_BYTES = 4096
/** Top processes carried per list (by CPU, by memory) in a summary. */
export const SUMMARY_TOP_N = 5
/** Tags per node and their size: enough for role/zone/env labels, bounded for the summary cap. */
export const MAX_TAGS = 16
export const MAX_TAG_BYTES = 64
/** Listen addresses carried in a summary. */
export const MAX_SUMMARY_ADDRS = 8
export const MAX_ADDR_BYTES = 200
/** Node names: hostnames are at most 253 bytes; we keep names short enough for a table. */
export const MAX_NAME_BYTES = 128

// ---- change-driven gossip (protocols/gossip.ts) ----
/**
 * With nothing else to say a node publishes a keep-alive. It carries the host figures that
 * drifted below the change thresholds (so no figure in anyone's view is older than one
 * period) and lets members that are not directly connected tell a live member from a gone one
 * even if no `gone` notice reached them. Every node hears every keep-alive, so a fixed period
 * would make an idle node's traffic grow with the mesh: the period grows with the members
 * instead (KEEPALIVE_PER_MEMBER_MS each, between KEEPALIVE_MIN_MS and KEEPALIVE_MAX_MS), so
 * the whole mesh sends about one keep-alive every 3 s at any size: 60 s at 20 hosts,
 * 5 min at 100, 50 min at 1,000.
 */
export const KEEPALIVE_PER_MEMBER_MS = 3000
export const KEEPALIVE_MIN_MS = 15_000
export const KEEPALIVE_MAX_MS = 60 * 60 * 1000
/** The keep-alive period in a mesh of `members` nodes (self included). */
export function keepAliveMs (members: number): number {
  return Math.min(KEEPALIVE_MAX_MS, Math.max(KEEPALIVE_MIN_MS, members * KEEPALIVE_PER_MEMBER_MS))
}
/**
 * Deltas that carry only figures (host CPU/memory/load, top lists) go out at most this often:
 * process starts and exits, tags, names and addresses go at once. A busy host's figures cross
 * the thresholds all the time; viewers that need every second pull live figures
 * (node/mesh/live-figures.ts). Like the keep-alive it grows with the mesh, so busy hosts
 * together send about one figure delta a second at any size: 15 s up to 15 hosts, then 1 s
 * per member.
 */
export const FIGURE_DELTA_MIN_MS = 15_000
export const FIGURE_DELTA_PER_MEMBER_MS = 1000
export function figureDeltaMs (members: number): number {
  return Math.max(FIGURE_DELTA_MIN_MS, members * FIGURE_DELTA_PER_MEMBER_MS)
}
/** Host CPU (percent of all cores) must move this many points to be worth a message: htop's own bar resolution is ~2-5 points; 10 is a change one sees. */
export const CHANGE_CPU_POINTS = 10
/** Host memory must move by this fraction of the total (5% of 16 GB = 800 MB). */
export const CHANGE_MEM_FRACTION = 0.05
/** The 1-minute load average must move by at least this much, and by this ratio of itself. */
export const CHANGE_LOAD_MIN = 0.5
export const CHANGE_LOAD_RATIO = 0.25
/** Processes under this CPU% do not count in the top-CPU list's order (idle ones reorder every sample). */
export const TOP_CPU_NOTICE_PERCENT = 1
/** A top process's CPU must move this many points (of one core) ... */
export const CHANGE_TOP_CPU_POINTS = 10
/** ... or its RSS by this ratio, to be announced. */
export const CHANGE_RSS_RATIO = 0.1
/**
 * How often the node looks for new and ended pids (ms). Listing /proc's directory costs
 * ~0.1 ms at 500 processes (no per-process reads); a change triggers a sample and a delta
 * at once, so a started process is announced within this plus a sample.
 */
export const PID_WATCH_MS = 200
/** Change-triggered samples are at least this far apart (ms): a host that forks all the time costs at most 4 extra samples a second. */
export const MIN_CHANGE_SAMPLE_MS = 250

// ---- liveness (node/mesh/prober.ts) ----
/**
 * Every this many ms a node probes ONE connected member (round robin), as SWIM does: an idle
 * node's probing cost is the same at 5 as at 500 hosts. A process that dies closes its TCP
 * connections (the kernel sends FIN/RST), so probes are for hosts that vanish silently.
 */
export const PROBE_INTERVAL_MS = 1000
/** A probe (a stream opened and closed: one round trip) that takes longer failed. */
export const PROBE_TIMEOUT_MS = 2000
/** Consecutive failed probes after which the connection is dropped and the member is offline. */
export const PROBE_FAILURES_TO_DROP = 2
/**
 * A member heard only through others (no direct connection) is stale when nothing came from
 * it for this many keep-alive periods (of a mesh the size of our view), offline after
 * OFFLINE_AFTER_KEEPALIVES.
 */
export const STALE_AFTER_KEEPALIVES = 2.5
export const OFFLINE_AFTER_KEEPALIVES = 4

// ---- mesh view ----
/** Peers remembered in the view, so a flood of fake peer ids cannot grow memory without bound. */
export const MAX_VIEW_PEERS = 1024
/** Offline peers are forgotten after this long (ms). */
export const FORGET_OFFLINE_AFTER_MS = 60 * 60 * 1000

// ---- sampling ----
/** How often a node samples its host and gossips, and how often top refreshes, unless --interval says otherwise. */
export const DEFAULT_INTERVAL_MS = 2000
/** Below this the collector itself becomes the load it measures. */
export const MIN_INTERVAL_MS = 200
export const MAX_INTERVAL_MS = 10 * 60 * 1000

// ---- local control API ----
/** One request line from the CLI: argv and env of a start fit easily. */
export const MAX_CONTROL_REQUEST_BYTES = 4 * 1024 * 1024
/** One response line: a fan-out ps over many hosts of 10,000 processes each. */
export const MAX_CONTROL_RESPONSE_BYTES = 256 * 1024 * 1024
/** Concurrent control connections (CLI, TUI, web): a local user's door, but still bounded. */
export const MAX_CONTROL_CONNECTIONS = 64

// ---- outbound requests (node/mesh/reqresp.ts) ----
/**
 * Requests of this node's own clients (CLI, TUI, web, fan-outs) to one peer over one protocol
 * that may wait for a free stream: the peer serves at most its protocol's maxInboundStreams at
 * once and resets more, so the rest queue here instead of failing. 64 control connections each
 * fanning out a few requests fit; a queue longer than this is a runaway client, refused as BUSY.
 */
export const MAX_QUEUED_REQUESTS_PER_PEER = 1024
/**
 * `logs --follow` streams a peer serves to one connection at once. A follow holds its stream
 * until the process exits or the client leaves, so follows have their own protocol and cap
 * (plain logs and lists never wait behind them); each costs the serving node a listener and a
 * stream, so a flooding peer is still bounded (64 x the ring buffer's chunk at most in flight).
 */
export const MAX_FOLLOWS_PER_CONNECTION = 64
/** A follow waits at most this long for one of those streams before it is refused as BUSY. */
export const FOLLOW_QUEUE_WAIT_MS = 15_000

// ---- dialling ----
/** Re-dial backoff after a peer drops: first delay, cap. */
export const REDIAL_BASE_MS = 500
export const REDIAL_MAX_MS = 30_000
/** A dial that has not completed by then is abandoned. */
export const DIAL_TIMEOUT_MS = 5000

// ---- reach (node/mesh/reach.ts) ----
/** How often a node feeds the addresses of its view into the peer store and dials unconnected members. */
export const REACH_TICK_MS = 1000
/**
 * Members a node keeps a connection to on its own initiative: the connection manager
 * holds 300 (node/mesh/libp2p.ts); the rest is left for members that dial us, relayed
 * connections and clients of the moment.
 */
export const MAX_KEPT_MEMBERS = 250
