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

/**
 * Sequence numbers reserved per write of the home's gossip-seq file (node/mesh/seq-lease.ts):
 * a node publishes at most a few messages a second, so a write every 10,000 is rare, and a
 * restart skips at most that many numbers (of 2^53).
 */
export const SEQ_LEASE = 10_000

// ---- mesh view ----
/** Peers remembered in the view, so a flood of fake peer ids cannot grow memory without bound. */
export const MAX_VIEW_PEERS = 1024
/**
 * Peers we have no connection to that one member may introduce into the view (their first
 * summary relayed by it). A joiner hears most of the mesh through its first member before
 * the reach keeper connects it to the rest, so this is generous; it stops one member with
 * free fresh keys from filling the view (issue 17 finding 6: 1,100 fakes through one
 * connection hid a joined host for up to an hour).
 */
export const MAX_RELAYED_AUTHORS_PER_PEER = 128
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
/**
 * Dials under way at once: a burst of discoveries (a LAN of hundreds of hosts answering one
 * query, or a spoofer) is dialled a few at a time instead of opening hundreds of sockets.
 */
export const MAX_CONCURRENT_DIALS = 16
/**
 * Peers known only from discovery answers (mDNS), not yet reached. A joiner needs one member:
 * the rest of the mesh comes from its gossip (reach.ts). Anyone on the LAN can send answers
 * naming any address, so these are bounded (issue 17 finding 10: 200 fake peers a second made
 * two nodes open 54,682 connections to a chosen address in 65 s).
 */
export const MAX_DISCOVERED_TARGETS = 64
/** New discovered peer ids per advertised host per minute: a host runs one node (a restart may bring a new identity). */
export const DISCOVERIES_PER_HOST_PER_MINUTE = 4
/** Dials of a peer known only from a discovery answer before it is forgotten (no 10-minute backoff for strangers). */
export const DISCOVERED_DIAL_ATTEMPTS = 2
/**
 * After one of several connections to a peer closed, gossip is renewed on a remaining one
 * this long after (node/mesh/gossip-healer.ts): the closed connection's streams end within a
 * few event-loop turns, and the renewal must come after gossipsub has reacted to them.
 */
export const GOSSIP_HEAL_SETTLE_MS = 250

// ---- reach (node/mesh/reach.ts) ----
/** How often a node feeds the addresses of its view into the peer store and dials unconnected members. */
export const REACH_TICK_MS = 1000
/**
 * Members a node keeps a connection to on its own initiative: the connection manager
 * holds 300 (node/mesh/libp2p.ts); the rest is left for members that dial us, relayed
 * connections and clients of the moment.
 */
export const MAX_KEPT_MEMBERS = 250

// ---- deployments (protocols/deploy.ts, node/deploy/) ----
/**
 * A deployment's name: it becomes part of its copies' managed names (`NAME-vVERSION-SLOT`,
 * at most 63 bytes), so it keeps room for a 10-digit version and a 3-digit slot.
 */
export const MAX_DEPLOY_NAME_BYTES = 40
/**
 * Live (not undeployed) deployments a mesh holds: every node gossips one digest entry per
 * deployment (~80 bytes), and the digest must stay under the gossip cap (MAX_SUMMARY_BYTES).
 */
export const MAX_DEPLOYMENTS = 32
/**
 * Specs a node keeps per name: the newest few, and the newest few of the authors it trusts, so a
 * node that does not trust the author of the newest ones still holds the ones it does trust
 * (protocols/deploy.ts, specsToKeep).
 */
export const SPECS_KEPT_PER_NAME = 3
/** All specs kept (live, superseded and undeploy tombstones); untrusted authors' specs go first, then the oldest tombstones. */
export const MAX_STORED_SPECS = 256
/**
 * One signed spec, encoded: argv and env of real services fit; a sync answer carries at most
 * MAX_STORED_SPECS of them (4 MiB), which bounds the sync protocol's frame.
 */
export const MAX_SPEC_BYTES = 16 * 1024
/** Copies of a deployment: more than the hosts of any mesh procmesh is built for (1,000) x a few. */
export const MAX_REPLICAS = 4096
/** Copies of one deployment on one host (--spread): a handful of workers per host. */
export const MAX_SPREAD = 16
/** Names in a `name1,name2` selector. */
export const MAX_SELECTOR_NAMES = 64
/**
 * A spec issued this far in the future (by its author's clock) is refused: a skewed clock would
 * otherwise make its issuedAt outrank every later edit in displays; ten minutes allow real skew.
 */
export const MAX_SPEC_CLOCK_SKEW_MS = 10 * 60 * 1000
/**
 * How often the reconciler looks at the mesh view when nothing told it to (ms): a host that went
 * offline is noticed by the view (prober, gone notices); this bounds the delay from there to the
 * replacement's start. A pass over 32 deployments x 1,000 hosts is well under a millisecond with
 * cached scores.
 */
export const RECONCILE_TICK_MS = 250
/**
 * After a node starts it waits this long (or for its first sync with a peer) before starting
 * copies: alone in its view it would place every replica on itself and stop them again a moment
 * later when the others appear. Copies it adopted keep running meanwhile.
 */
export const DEPLOY_SETTLE_MS = 3000
/**
 * Anti-entropy: every this many ms a node syncs with one random connected member (one request,
 * answered from memory), so a digest or spec lost in gossip is repaired: each node's cost is the
 * same at 5 as at 1,000 hosts.
 */
export const DEPLOY_ANTI_ENTROPY_MS = 30_000
/**
 * The host next in line for a copy (it would take it if the holder were lost) probes the holder
 * this often (ms), with the prober's yamux ping (12 bytes each way): the mesh's round-robin probe
 * reaches a given member from a given node only every N seconds, so at 10 hosts a silent loss
 * took 5-9.5 s to notice (bench/deploy.ts); a failed probe marks the holder suspect at once.
 */
export const DEPLOY_WATCH_MS = 1000
/** Holders one node watches at most: its watching costs at most this many pings a second. */
export const MAX_DEPLOY_WATCHED = 16
/** Digest changes (copies starting, exiting) are gathered this long before one digest is published. */
export const DEPLOY_DIGEST_DEBOUNCE_MS = 100
/**
 * A node that sees a peer's digest with a different set of specs pulls from it after this long
 * (ms), if the sets still differ then: the spec pushed with its author's digest usually arrives
 * within it, so a deploy costs no pull at all (node/deploy/deploy-service.ts syncSoon).
 */
export const DEPLOY_SYNC_DELAY_MS = 500
/**
 * A digest that carries the spec its node has just issued (pushed, so that no node needs a pull
 * round trip to the author): the digest's own cap plus one spec's. Gossipsub frames take 64 KiB.
 */
export const MAX_DIGEST_WITH_SPEC_BYTES = MAX_SUMMARY_BYTES + MAX_SPEC_BYTES + 1024

// ---- web dashboard logs (cli/web/) ----
/**
 * `GET /api/logs` answers at most this much output (the last of it; `truncated` says so):
 * the node keeps at most a 1 MiB ring per process and one JSON answer stays small enough for
 * a browser to hold and show.
 */
export const MAX_WEB_LOGS_BYTES = 1024 * 1024
/**
 * Log follows open at once through one `procmesh web`: each holds a control connection and a
 * follow stream on the target (MAX_FOLLOWS_PER_CONNECTION per connection), so a runaway page
 * cannot use up the node's MAX_CONTROL_CONNECTIONS.
 */
export const MAX_WEB_LOG_FOLLOWS = 16
