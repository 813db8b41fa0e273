/** The supervisor's limits, each with why; each is overridable through SupervisorInit where a test or a small host needs it. */
import type { LogChunk } from '../../../protocols/messages.js'

/**
 * Output kept in memory per stream of each process: the tail a `logs` call returns (after a node
 * restart, the rings are refilled from the end of the log files). 256 KiB is a
 * few thousand lines, enough to see why something failed; rings grow on demand, so a quiet
 * process costs almost nothing, and the worst case is MAX_KEPT * 2 * 256 KiB = 250 MiB, reachable
 * only by a peer holding `exec`, which can spend the host's memory directly anyway.
 */
export const RING_BUFFER_BYTES = 256 * 1024
/**
 * A log file (`<logsDir>/<managedId>.stdout.log`, `.stderr.log`) is written by the process itself
 * (O_APPEND), not by the node, so the node's death cannot block or break it. Past this size the
 * node moves the file's content to `<file>.1` (replacing the previous one) and truncates the file
 * (logrotate's copytruncate: the writer's O_APPEND offset follows the truncation). Disk per process:
 * at most 2 x 2 x 4 MiB while a node runs; while none runs a file grows unchecked until the next
 * node start trims it (the price of not putting a reader between the process and its file).
 */
export const MAX_LOG_FILE_BYTES = 4 * 1024 * 1024
/**
 * How often the log files of running processes are checked for new output besides inotify (ms):
 * a safety net for filesystems without change events; the watch itself delivers output at once.
 */
export const TAIL_POLL_MS = 1000
/** Bytes read from a log file per read call while tailing. */
export const TAIL_READ_BYTES = 256 * 1024
/**
 * How often processes this node did not start itself (adopted after a node restart) are checked
 * for exit (ms): they are not our children, so no exit event comes; /proc tells.
 */
export const ADOPTED_POLL_MS = 200
/**
 * A stop or remove through procmesh waits this long for a TERMed process before KILL (ms),
 * as `procmesh kill --grace 5s` would.
 */
export const RESTART_GRACE_MS = 5000
/** argv bytes of a record carried in a managed list (the full argv is in the record file). */
export const MAX_LISTED_ARGV_BYTES = 4096
/** Managed records kept, running or exited: bounds memory and the logs directory. */
export const MAX_KEPT = 500
/** Exited records (and their log files) are kept this long for `logs` and post-mortems (ms). */
export const KEEP_EXITED_MS = 60 * 60 * 1000
/**
 * Starts in progress at once; more are refused with BUSY. A start costs two fsyncs and a fork,
 * so 16 keeps a burst of requests from one peer from monopolising the disk and the event loop.
 */
export const MAX_CONCURRENT_STARTS = 16
/**
 * Raw output bytes per LogChunk. A byte becomes at most 3 bytes of UTF-8 (an invalid byte turns
 * into U+FFFD) and 6 bytes of JSON (a control byte turns into \u0000), so a chunk stays under
 * validateLogChunk's 512 KiB and the LOGS frame cap of 1 MiB whatever the process printed.
 */
export const LOG_CHUNK_BYTES = 128 * 1024
/**
 * Stream switches (stdout <-> stderr) remembered per process, so `logs` replays the buffered output
 * in the order it was written. Past it the oldest part is replayed per stream.
 */
export const MAX_OUTPUT_RUNS = 1024
/**
 * Start request ids remembered, in memory and in the state file: a retry of any of the last
 * 10,000 starts is recognised, at ~200 bytes each (2 MB). Clients retry within seconds.
 */
export const MAX_REMEMBERED_STARTS = 10_000
/** A state file larger than this is not a procmesh state file (compaction keeps it near 2 MB). */
export const MAX_STATE_FILE_BYTES = 64 * 1024 * 1024
/**
 * A process can exit while children it left behind still hold its log files open. A `logs
 * --follow` ends this long after the exit (ms), with what they wrote until then.
 */
export const EXIT_DRAIN_MS = 200
/** How often exited records are checked against keepExitedMs (ms). */
export const EVICT_INTERVAL_MS = 60 * 1000
/** PATH of started processes when the node is given none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
/** cwd of started processes whose request names none: a remote peer cannot know the node's cwd. */
export const DEFAULT_CWD = '/'

export type StreamName = LogChunk['stream']
export const STREAMS: readonly StreamName[] = ['stdout', 'stderr']

