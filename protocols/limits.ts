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

// ---- mesh view ----
/** A peer with no summary for this many of its intervals is stale ... */
export const STALE_AFTER_INTERVALS = 3
/** ... and offline after this many (or at once when its connection drops). */
export const OFFLINE_AFTER_INTERVALS = 10
/** Peers remembered in the view, so a flood of fake peer ids cannot grow memory without bound. */
export const MAX_VIEW_PEERS = 1024
/** Offline peers are forgotten after this long (ms). */
export const FORGET_OFFLINE_AFTER_MS = 60 * 60 * 1000

// ---- sampling ----
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
