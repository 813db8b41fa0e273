/**
 * The managed-process supervisor: the server side of start and logs.
 *
 * - startProcess: argv only (never a shell), cwd and command checked before anything is recorded, the
 *   outcome recorded durably BEFORE it is acknowledged (THREATS.md invariant 4): a `pending` line
 *   (fsync) before the spawn, a `started` line (fsync) before the answer. A retry with the same
 *   request id, concurrent or after a crash and restart, gets the same process, never a second.
 * - output: both pipes are always read (the child is never blocked by us), kept in bounded rings
 *   (the tail) and in a capped log file (the head), so 1 GiB of output costs fixed memory and disk.
 * - exit: Node reaps every child (no zombies); exited records stay queryable for a while.
 *
 * Stopping the supervisor does NOT kill its children: a node restart or upgrade is not a request to
 * stop workloads, and a signal nobody with the `control` role asked for would break invariant 2.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { constants as fsConstants, createWriteStream, type Stats, type WriteStream } from 'node:fs'
import { access, mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises'
import { Socket } from 'node:net'
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import { ProcmeshError, errorMessage, errnoCode } from '../../protocols/errors.js'
import { validateArgv, validateEnv, type LogChunk, type LogsEnd, type StartRequest, type StartResult } from '../../protocols/messages.js'
import type { Logger } from '../logger.js'
import { DEFAULT_PROC_ROOT, readStartTimeSync } from './process-control.js'

// ---- limits (each overridable through SupervisorInit where a test or a small host needs it) ----
/**
 * Output kept in memory per stream of each process: the tail a `logs` call returns. 256 KiB is a
 * few thousand lines, enough to see why something failed; rings grow on demand, so a quiet
 * process costs almost nothing, and the worst case is MAX_KEPT * 2 * 256 KiB = 250 MiB, reachable
 * only by a peer holding `exec`, which can spend the host's memory directly anyway.
 */
export const RING_BUFFER_BYTES = 256 * 1024
/**
 * Output written to a process's log file (`<logsDir>/<managedId>.log`). Past it the file stops
 * growing and ends with a truncation note: the file keeps the head of the output (startup
 * errors), the rings the tail. Bounds the logs directory at MAX_KEPT * 8 MiB = 4 GiB.
 */
export const MAX_LOG_FILE_BYTES = 8 * 1024 * 1024
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
 * A process can exit while children it left behind still hold its output pipes open. We keep
 * reading them, but a `logs --follow` ends this long after the exit (ms) rather than with them.
 */
export const EXIT_DRAIN_MS = 1000
/** How often exited records are checked against keepExitedMs (ms). */
export const EVICT_INTERVAL_MS = 60 * 1000
/** PATH of started processes when the node is given none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
/** cwd of started processes whose request names none: a remote peer cannot know the node's cwd. */
export const DEFAULT_CWD = '/'

export type StreamName = LogChunk['stream']
const STREAMS: readonly StreamName[] = ['stdout', 'stderr']

// ---- output buffers ----

/**
 * A byte ring of fixed capacity that drops its oldest bytes. Positions are absolute: `end` counts
 * every byte ever written, so readers keep cursors and notice when the ring has moved past them.
 * The backing buffer grows on demand up to the capacity.
 */
export class ByteRing {
  readonly capacity: number
  private buf: Buffer = Buffer.alloc(0)
  private head = 0
  private size = 0
  private written = 0

  constructor (capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity ${capacity}: must be a positive integer`)
    this.capacity = capacity
  }

  /** absolute position just after the newest byte */
  get end (): number { return this.written }
  /** absolute position of the oldest byte still held */
  get start (): number { return this.written - this.size }
  get length (): number { return this.size }
  /** bytes of memory held */
  get allocated (): number { return this.buf.length }

  write (chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.written += chunk.length
    if (chunk.length >= this.capacity) {
      if (this.buf.length < this.capacity) this.buf = Buffer.allocUnsafeSlow(this.capacity)
      this.buf.set(chunk.subarray(chunk.length - this.capacity), 0)
      this.head = 0
      this.size = this.capacity
      return
    }
    const needed = this.size + chunk.length
    if (needed > this.buf.length && this.buf.length < this.capacity) {
      this.grow(Math.min(this.capacity, Math.max(needed, this.buf.length * 2, 4096)))
    }
    const cap = this.buf.length
    const drop = Math.max(0, needed - cap)
    this.head = (this.head + drop) % cap
    this.size -= drop
    const tail = (this.head + this.size) % cap
    const first = Math.min(chunk.length, cap - tail)
    this.buf.set(chunk.subarray(0, first), tail)
    if (first < chunk.length) this.buf.set(chunk.subarray(first), 0)
    this.size += chunk.length
  }

  /** A copy of the bytes at absolute positions [from, to), clipped to what is held. */
  read (from: number, to: number): Buffer {
    const lo = Math.max(from, this.start)
    const hi = Math.min(to, this.end)
    if (hi <= lo) return Buffer.alloc(0)
    const cap = this.buf.length
    const offset = (this.head + (lo - this.start)) % cap
    const n = hi - lo
    const out = Buffer.allocUnsafe(n)
    const first = Math.min(n, cap - offset)
    this.buf.copy(out, 0, offset, offset + first)
    if (first < n) this.buf.copy(out, first, 0, n - first)
    return out
  }

  private grow (size: number): void {
    const next = Buffer.allocUnsafeSlow(size)
    const cap = this.buf.length
    const first = Math.min(this.size, cap - this.head)
    if (first > 0) this.buf.copy(next, 0, this.head, this.head + first)
    if (first < this.size) this.buf.copy(next, first, 0, this.size - first)
    this.buf = next
    this.head = 0
  }
}

/** Where a reader is in both streams (absolute ring positions); `truncated` once it missed bytes. */
export interface OutputCursor { stdout: number, stderr: number, truncated: boolean }

interface Run { stream: StreamName, start: number, end: number }

/**
 * stdout and stderr of one process: a ring each, plus the runs (which stream wrote which range,
 * in order) so a reader gets the buffered output back in the order it was written.
 */
export class OutputBuffer {
  readonly rings: Readonly<Record<StreamName, ByteRing>>
  private readonly maxRuns: number
  private readonly runs: Run[] = []

  constructor (capacity: number = RING_BUFFER_BYTES, maxRuns: number = MAX_OUTPUT_RUNS) {
    this.rings = { stdout: new ByteRing(capacity), stderr: new ByteRing(capacity) }
    this.maxRuns = Math.max(1, maxRuns)
  }

  write (stream: StreamName, chunk: Uint8Array): void {
    if (chunk.length === 0) return
    const ring = this.rings[stream]
    const start = ring.end
    ring.write(chunk)
    const last = this.runs[this.runs.length - 1]
    if (last !== undefined && last.stream === stream) {
      last.end = ring.end
    } else {
      this.runs.push({ stream, start, end: ring.end })
      if (this.runs.length > this.maxRuns) this.runs.shift()
    }
    while (this.runs.length > 1 && this.runs[0].end <= this.rings[this.runs[0].stream].start) this.runs.shift()
  }

  /** Positions just after the newest bytes: a reader that stops here has everything written so far. */
  ends (): Record<StreamName, number> {
    return { stdout: this.rings.stdout.end, stderr: this.rings.stderr.end }
  }

  /**
   * The next piece of output after `cursor` (at most maxBytes, one stream), in write order, and
   * not past `limit`; advances the cursor. Bytes the rings dropped before the reader got to them
   * are skipped and mark the cursor truncated. Undefined when the reader has everything.
   */
  next (cursor: OutputCursor, maxBytes: number, limit?: Record<StreamName, number>): { stream: StreamName, data: Buffer } | undefined {
    for (const s of STREAMS) {
      const start = this.rings[s].start
      if (cursor[s] < start) {
        cursor[s] = start
        cursor.truncated = true
      }
    }
    const upTo = (s: StreamName, end: number): number => Math.min(end, limit?.[s] ?? end)
    // bytes older than the oldest remembered run of their stream (runs past MAX_OUTPUT_RUNS): per stream
    for (const s of STREAMS) {
      const firstRun = this.runs.find(r => r.stream === s)
      const end = upTo(s, firstRun?.start ?? this.rings[s].end)
      if (cursor[s] < end) return this.take(cursor, s, end, maxBytes)
    }
    for (const run of this.runs) {
      const end = upTo(run.stream, run.end)
      if (cursor[run.stream] < end) return this.take(cursor, run.stream, end, maxBytes)
    }
    return undefined
  }

  private take (cursor: OutputCursor, stream: StreamName, end: number, maxBytes: number): { stream: StreamName, data: Buffer } {
    const from = cursor[stream]
    const to = Math.min(end, from + maxBytes)
    cursor[stream] = to
    return { stream, data: this.rings[stream].read(from, to) }
  }
}

// ---- the log file ----

/** Appends output to a file up to a cap, then notes the truncation and stops. Never blocks the reader. */
class CappedLogFile {
  readonly path: string
  private readonly cap: number
  private readonly log: Logger
  private stream?: WriteStream
  private written = 0
  private closed = false
  private failed = false
  truncated = false

  constructor (path: string, cap: number, log: Logger) {
    this.path = path
    this.cap = cap
    this.log = log
  }

  /** whether the file was ever created */
  get exists (): boolean { return this.stream !== undefined }

  write (chunk: Buffer): void {
    if (this.closed || this.failed || this.truncated) return
    // created on the first output: a silent process leaves no empty file behind.
    // 'wx': never append to (or through a symlink to) a file that is already there.
    this.stream ??= this.openStream()
    const room = this.cap - this.written
    if (chunk.length <= room) {
      this.stream.write(chunk)
      this.written += chunk.length
      return
    }
    if (room > 0) this.stream.write(chunk.subarray(0, room))
    this.written = this.cap
    this.truncated = true
    this.stream.write(`\n[procmesh: log file truncated at ${this.cap} bytes; the latest output is in memory, see procmesh logs]\n`)
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    const stream = this.stream
    if (stream === undefined || stream.destroyed) return
    await new Promise<void>(resolve => {
      stream.once('close', resolve)
      stream.end()
    })
  }

  private openStream (): WriteStream {
    const stream = createWriteStream(this.path, { flags: 'wx', mode: 0o600 })
    stream.on('error', (err: unknown) => {
      if (!this.failed) this.log.warn('log file %s: %s; output is still kept in memory', this.path, errorMessage(err))
      this.failed = true
    })
    return stream
  }
}

// ---- the state file (idempotency across restarts) ----

/** One line of the state file. `by` + `id` name a start request (ids are per requester). */
type StateEntry =
  | { t: 'pending', by: string, id: string, fp: string, managedId: string, at: number }
  | { t: 'started', by: string, id: string, fp: string, managedId: string, pid: number, startTime: number, at: number }
  | { t: 'failed', by: string, id: string, at: number }

/**
 * What the supervisor remembers about a request id: in flight in this life (`pending`), done
 * (`started`), or recorded as pending by an earlier life that died before recording the outcome
 * (`unknown`: the process may or may not be running, so a retry must not start another).
 */
type Remembered =
  | { state: 'pending', fp: string, managedId: string, at: number }
  | { state: 'started', fp: string, result: StartResult, at: number }
  | { state: 'unknown', fp: string, managedId: string, at: number }

function parseStateLine (line: string): StateEntry | undefined {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const r = v as Record<string, unknown>
  if (typeof r.by !== 'string' || typeof r.id !== 'string' || typeof r.at !== 'number') return undefined
  if (r.t === 'failed') return { t: 'failed', by: r.by, id: r.id, at: r.at }
  if (typeof r.fp !== 'string' || typeof r.managedId !== 'string') return undefined
  if (r.t === 'pending') return { t: 'pending', by: r.by, id: r.id, fp: r.fp, managedId: r.managedId, at: r.at }
  if (r.t === 'started' && typeof r.pid === 'number' && typeof r.startTime === 'number') {
    return { t: 'started', by: r.by, id: r.id, fp: r.fp, managedId: r.managedId, pid: r.pid, startTime: r.startTime, at: r.at }
  }
  return undefined
}

/**
 * An append-only JSON-lines file with group commit: lines queued while an fsync runs go out
 * together in the next write + fsync, so concurrent starts share the disk's latency. A line's
 * promise resolves only once it is on disk. Compacted (rewritten from the live entries through a
 * temporary file and a rename) when it has grown to twice what it needs.
 */
class StateLog {
  private readonly path: string
  private readonly log: Logger
  private readonly snapshot: () => StateEntry[]
  private fh?: FileHandle
  private queue: Array<{ line: string, resolve: () => void, reject: (err: unknown) => void }> = []
  private flushing = false
  private loop: Promise<void> = Promise.resolve()
  /** the file may end in a partial line (a crash or ENOSPC mid-write): start the next write on a new line */
  private torn = false
  private regular = true
  private lines = 0

  constructor (path: string, log: Logger, snapshot: () => StateEntry[]) {
    this.path = path
    this.log = log
    this.snapshot = snapshot
  }

  /** Read the entries an earlier life wrote, then open for appending. */
  async open (): Promise<StateEntry[]> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
    const entries: StateEntry[] = []
    let created = false
    try {
      const handle = await open(this.path, 'r')
      try {
        const info = await handle.stat()
        this.regular = info.isFile()
        if (!this.regular) {
          this.log.warn('state file %s is not a regular file: not loaded, not compacted', this.path)
        } else {
          if (info.size > MAX_STATE_FILE_BYTES) throw new Error(`state file ${this.path} is larger than ${MAX_STATE_FILE_BYTES} bytes: not a procmesh state file?`)
          const text = (await handle.readFile()).toString('utf8')
          let bad = 0
          for (const line of text.split('\n')) {
            if (line === '') continue
            const entry = parseStateLine(line)
            if (entry === undefined) bad++
            else entries.push(entry)
          }
          this.lines = entries.length
          this.torn = text.length > 0 && !text.endsWith('\n')
          // a torn last line is what a crash mid-write leaves; it was never acknowledged
          if (bad > 0) this.log.warn('state file %s: skipped %d unreadable line(s)', this.path, bad)
        }
      } finally {
        await handle.close()
      }
    } catch (err: unknown) {
      if (errnoCode(err) !== 'ENOENT') throw err
      created = true
    }
    this.fh = await open(this.path, 'a', 0o600)
    if (created) await syncDir(dirname(this.path))
    return entries
  }

  /** Resolves once the entry is on disk (fsync); rejects when it could not be written. */
  async append (entry: StateEntry): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.queue.push({ line: `${JSON.stringify(entry)}\n`, resolve, reject })
      if (!this.flushing) {
        this.flushing = true
        this.loop = this.flush()
      }
    })
  }

  /** Rewrite the file from the live entries now (after loading, to drop what an earlier life left). */
  async compact (): Promise<void> {
    if (!this.regular || this.fh === undefined) return
    const entries = this.snapshot()
    const tmp = `${this.path}.tmp`
    const handle = await open(tmp, 'w', 0o600)
    try {
      await handle.writeFile(entries.map(e => `${JSON.stringify(e)}\n`).join(''))
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, this.path)
    await syncDir(dirname(this.path))
    const old = this.fh
    this.fh = await open(this.path, 'a', 0o600)
    await old.close()
    this.lines = entries.length
    this.torn = false
  }

  async close (): Promise<void> {
    while (this.flushing) await this.loop
    await this.fh?.close()
    this.fh = undefined
  }

  private async flush (): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0)
      try {
        if (this.fh === undefined) throw new Error('state file is closed')
        const buf = Buffer.from((this.torn ? '\n' : '') + batch.map(b => b.line).join(''))
        this.torn = true
        let offset = 0
        while (offset < buf.length) {
          const { bytesWritten } = await this.fh.write(buf, offset, buf.length - offset)
          offset += bytesWritten
        }
        this.torn = false
        await this.fh.datasync()
        this.lines += batch.length
        for (const b of batch) b.resolve()
      } catch (err: unknown) {
        for (const b of batch) b.reject(err)
        continue
      }
      if (this.regular && this.lines > 2 * MAX_REMEMBERED_STARTS) {
        await this.compact().catch((err: unknown) => { this.log.warn('compacting state file %s failed: %s', this.path, errorMessage(err)) })
      }
    }
    // set in the same synchronous step as the last emptiness check: an append after it starts a new loop
    this.flushing = false
  }
}

async function syncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } catch (err: unknown) {
    // some filesystems refuse fsync on directories; the rename itself is still atomic
    if (errnoCode(err) !== 'EINVAL' && errnoCode(err) !== 'EBADF') throw err
  } finally {
    await handle.close()
  }
}

// ---- the supervisor ----

export interface SupervisorInit {
  /** directory of the per-process log files (created 0700) */
  logsDir: string
  /**
   * JSON-lines file of start outcomes (created 0600). Without it, request ids are remembered in
   * memory only, so a retry after a node restart could start a second process: production nodes
   * always pass one (in the node's home).
   */
  stateFile?: string
  log: Logger
  maxKept?: number
  keepExitedMs?: number
  maxConcurrentStarts?: number
  /** environment every started process begins with, before the request's env (default { PATH: DEFAULT_PATH }) */
  baseEnv?: Readonly<Record<string, string>>
  /** cwd for requests that name none (default DEFAULT_CWD) */
  defaultCwd?: string
  ringBufferBytes?: number
  maxLogFileBytes?: number
  /** where procfs is mounted (default /proc) */
  procRoot?: string
  /** called once per process exit (audit, tests) */
  onExit?: (info: ManagedInfo) => void
}

/** A managed process as list() reports it. */
export interface ManagedInfo {
  managedId: string
  argv: string[]
  pid: number
  /** ms epoch, computed as the collector computes it */
  startTime: number
  /** the peer (or `local`) whose request started it */
  requestedBy: string
  exitCode: number | null
  /** the signal that ended it, as Node names it (`SIGKILL`) */
  signal: string | null
  exitedAt: number | null
  /** null while nothing was written to it */
  logFile: string | null
  logTruncated: boolean
  /** bytes written to each stream so far */
  outputBytes: Record<StreamName, number>
}

interface ManagedRecord {
  managedId: string
  argv: string[]
  pid: number
  startTime: number
  requestedBy: string
  child: ChildProcess
  output: OutputBuffer
  file: CappedLogFile
  exitCode: number | null
  signal: string | null
  exitedAt: number | null
  /** both pipes closed, or EXIT_DRAIN_MS passed since the exit */
  outputDone: boolean
  drainTimer?: NodeJS.Timeout
  waiters: Set<() => void>
}

export class Supervisor {
  private readonly logsDir: string
  private readonly stateFile?: string
  private readonly log: Logger
  private readonly maxKept: number
  private readonly keepExitedMs: number
  private readonly maxConcurrentStarts: number
  private readonly baseEnv: Readonly<Record<string, string>>
  private readonly defaultCwd: string
  private readonly ringBufferBytes: number
  private readonly maxLogFileBytes: number
  private readonly procRoot: string
  private readonly onExitHook?: (info: ManagedInfo) => void
  private readonly records = new Map<string, ManagedRecord>()
  private readonly remembered = new Map<string, Remembered>()
  private readonly inFlight = new Map<string, { fp: string, promise: Promise<StartResult> }>()
  private launching = 0
  private state?: StateLog
  private timer?: NodeJS.Timeout
  private running = false

  constructor (init: SupervisorInit) {
    this.logsDir = init.logsDir
    this.stateFile = init.stateFile
    this.log = init.log
    this.maxKept = positiveInt(init.maxKept, MAX_KEPT, 'maxKept')
    this.keepExitedMs = nonNegative(init.keepExitedMs, KEEP_EXITED_MS, 'keepExitedMs')
    this.maxConcurrentStarts = positiveInt(init.maxConcurrentStarts, MAX_CONCURRENT_STARTS, 'maxConcurrentStarts')
    this.baseEnv = Object.freeze({ ...(init.baseEnv ?? { PATH: DEFAULT_PATH }) })
    this.defaultCwd = init.defaultCwd ?? DEFAULT_CWD
    this.ringBufferBytes = positiveInt(init.ringBufferBytes, RING_BUFFER_BYTES, 'ringBufferBytes')
    this.maxLogFileBytes = nonNegative(init.maxLogFileBytes, MAX_LOG_FILE_BYTES, 'maxLogFileBytes')
    this.procRoot = init.procRoot ?? DEFAULT_PROC_ROOT
    this.onExitHook = init.onExit
  }

  async start (): Promise<void> {
    if (this.running) return
    await mkdir(this.logsDir, { recursive: true, mode: 0o700 })
    if (this.stateFile !== undefined) {
      const state = new StateLog(this.stateFile, this.log, () => this.stateSnapshot())
      for (const entry of await state.open()) this.replay(entry)
      this.trimRemembered()
      // drop what an earlier life left beyond the live entries; a failure only costs disk
      await state.compact().catch((err: unknown) => { this.log.warn('compacting state file %s failed: %s', this.stateFile, errorMessage(err)) })
      this.state = state
    }
    await this.pruneOldLogFiles()
    this.timer = setInterval(() => { this.evict(Date.now(), 0) }, EVICT_INTERVAL_MS)
    this.timer.unref()
    this.running = true
  }

  /** Stops timers and closes files. Children keep running (see the top of this file). */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    clearInterval(this.timer)
    this.timer = undefined
    await Promise.allSettled([...this.inFlight.values()].map(async f => await f.promise))
    for (const record of this.records.values()) {
      clearTimeout(record.drainTimer)
      record.drainTimer = undefined
      await record.file.close()
      // keep reading their pipes while this process lives (so they are never blocked by us), but
      // let it exit: when it does, the pipes close and a child's next write gets EPIPE/SIGPIPE.
      record.child.unref()
      for (const s of [record.child.stdout, record.child.stderr]) if (s instanceof Socket) s.unref()
      for (const wake of [...record.waiters]) wake()
    }
    await this.state?.close()
    this.state = undefined
  }

  /**
   * Start a process, or return the process an earlier request with the same id (from the same
   * requester) started. Throws ProcmeshError: SPAWN_FAILED (bad cwd, command not found or not
   * executable, exec failed), BUSY (too many starts in progress or processes kept), REFUSED (the
   * id was used for a different start, or its outcome was lost in a crash), SERVER_ERROR (the
   * outcome could not be recorded durably: nothing is left running).
   */
  async startProcess (req: StartRequest, requestedBy: string): Promise<StartResult> {
    if (!this.running) throw new ProcmeshError('UNAVAILABLE', 'the supervisor is not running')
    const key = requestKey(requestedBy, req.requestId)
    const fp = startFingerprint(req)
    const known = this.remembered.get(key)
    if (known !== undefined && known.state !== 'pending') {
      if (known.fp !== fp) throw reusedIdError(req.requestId)
      if (known.state === 'started') return { ...known.result }
      throw new ProcmeshError('REFUSED', `start ${req.requestId} was interrupted by a node restart before its outcome was recorded: ` +
        `its process (${known.managedId}) may or may not be running; check ps, and use a new request id to start again`)
    }
    const flight = this.inFlight.get(key)
    if (flight !== undefined) {
      if (flight.fp !== fp) throw reusedIdError(req.requestId)
      return { ...await flight.promise }
    }
    if (this.inFlight.size >= this.maxConcurrentStarts) {
      throw new ProcmeshError('BUSY', `${this.inFlight.size} starts are in progress, the most this node runs at once; try again shortly`)
    }
    const promise = this.launch(req, requestedBy, key, fp)
    this.inFlight.set(key, { fp, promise })
    try {
      return { ...await promise }
    } finally {
      this.inFlight.delete(key)
    }
  }

  /** Running managed processes by pid, for the list protocol to mark them. */
  managedByPid (): Map<number, { managedId: string, startedBy: string, startTime: number }> {
    const out = new Map<number, { managedId: string, startedBy: string, startTime: number }>()
    for (const r of this.records.values()) {
      if (r.exitedAt === null) out.set(r.pid, { managedId: r.managedId, startedBy: r.requestedBy, startTime: r.startTime })
    }
    return out
  }

  /** Every kept record, oldest first. */
  list (): ManagedInfo[] {
    return [...this.records.values()].map(r => this.info(r))
  }

  /** One record, or undefined. */
  get (managedId: string): ManagedInfo | undefined {
    const r = this.records.get(managedId)
    return r === undefined ? undefined : this.info(r)
  }

  /**
   * Send the buffered output of a process (in write order, chunks of at most LOG_CHUNK_BYTES of
   * output), then with follow its new output until it exits or `signal` aborts. A slow reader
   * never holds output back: it reads from the rings, and what they dropped before it got there
   * is skipped (`truncated`). NOT_FOUND for an unknown id.
   */
  async logs (managedId: string, follow: boolean, onChunk: (c: LogChunk) => Promise<void>, signal: AbortSignal): Promise<LogsEnd> {
    const record = this.records.get(managedId)
    if (record === undefined) throw new ProcmeshError('NOT_FOUND', `no managed process ${managedId} on this node`)
    const cursor: OutputCursor = { stdout: 0, stderr: 0, truncated: false }
    const decoders: Record<StreamName, StringDecoder> = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') }
    // without follow, what was there when asked: a fast writer must not keep the answer going
    const limit = follow ? undefined : record.output.ends()
    for (;;) {
      for (;;) {
        if (signal.aborted) return this.logsEnd(record, cursor)
        const piece = record.output.next(cursor, LOG_CHUNK_BYTES, limit)
        if (piece === undefined) break
        const data = decoders[piece.stream].write(piece.data)
        if (data !== '') await onChunk({ stream: piece.stream, data })
      }
      if (!follow || this.finished(record) || !this.running || signal.aborted) break
      await this.changed(record, signal)
    }
    for (const stream of STREAMS) {
      const rest = decoders[stream].end()
      if (rest !== '' && !signal.aborted) await onChunk({ stream, data: rest })
    }
    return this.logsEnd(record, cursor)
  }

  // ---- internals ----

  private async launch (req: StartRequest, requestedBy: string, key: string, fp: string): Promise<StartResult> {
    // the protocol layer validated these already; the supervisor does not rely on every caller doing so
    const argv = validateArgv(req.argv)
    const env = { ...this.baseEnv, ...(req.env === undefined ? {} : validateEnv(req.env)) }
    const cwd = await checkCwd(req.cwd ?? this.defaultCwd)
    const file = await resolveCommand(argv[0], env.PATH ?? '', cwd)

    this.evict(Date.now(), 1 + this.launching)
    if (this.records.size + this.launching >= this.maxKept) {
      throw new ProcmeshError('BUSY', `${this.records.size} managed processes are running, the most this node keeps (${this.maxKept})`)
    }
    this.launching++
    try {
      const managedId = newManagedId()
      const at = Date.now()
      this.remembered.set(key, { state: 'pending', fp, managedId, at })
      try {
        await this.state?.append({ t: 'pending', by: requestedBy, id: req.requestId, fp, managedId, at })
      } catch (err: unknown) {
        this.remembered.delete(key)
        this.log.error('start %s refused: cannot write the state file: %s', req.requestId, errorMessage(err))
        throw new ProcmeshError('SERVER_ERROR', `cannot record the start durably (${errorMessage(err)}); nothing was started`)
      }

      let record: ManagedRecord
      try {
        record = await this.spawnRecord(managedId, argv, file, cwd, env, requestedBy)
      } catch (err: unknown) {
        this.remembered.delete(key)
        await this.state?.append({ t: 'failed', by: requestedBy, id: req.requestId, at: Date.now() }).catch((e: unknown) => {
          // the pending line stays: after a restart a retry is refused rather than run twice
          this.log.warn('state file: could not record failed start %s: %s', req.requestId, errorMessage(e))
        })
        throw err
      }

      const result: StartResult = { managedId, pid: record.pid, startTime: record.startTime }
      try {
        await this.state?.append({ t: 'started', by: requestedBy, id: req.requestId, fp, managedId, pid: record.pid, startTime: record.startTime, at: Date.now() })
      } catch (err: unknown) {
        // an acknowledgement must be backed by durable state: undo the start. The child is ours and
        // not yet reaped (Node reaps on 'exit'), so its pid still names it.
        if (record.exitedAt === null) record.child.kill('SIGKILL')
        this.remembered.set(key, { state: 'unknown', fp, managedId, at })
        this.log.error('start %s undone: cannot write the state file: %s', req.requestId, errorMessage(err))
        throw new ProcmeshError('SERVER_ERROR', `cannot record the start durably (${errorMessage(err)}); the process was killed`)
      }
      this.remembered.set(key, { state: 'started', fp, result, at })
      this.trimRemembered()
      // the command only, not its arguments: they may carry secrets (the audit log is the record)
      this.log.info('started %s (pid %d) for %s: %s with %d argument(s)', managedId, record.pid, requestedBy, JSON.stringify(argv[0]), argv.length - 1)
      return result
    } finally {
      this.launching--
    }
  }

  private async spawnRecord (managedId: string, argv: string[], file: string, cwd: string, env: Record<string, string>, requestedBy: string): Promise<ManagedRecord> {
    let child: ChildProcess
    try {
      // detached: its own session and process group, so it survives a terminal hang-up of the node
      // and a stop can find its subtree. Stops never signal the group (negative pids are refused).
      child = spawn(file, argv.slice(1), {
        argv0: argv[0], cwd, env, shell: false, stdio: ['ignore', 'pipe', 'pipe'], detached: true, windowsHide: true
      })
    } catch (err: unknown) {
      throw new ProcmeshError('SPAWN_FAILED', `${argv[0]}: ${errorMessage(err)}`)
    }
    // read now, synchronously: until the event loop runs Node cannot have reaped the child, so
    // even a child that already exited is still there (a zombie) with its start time
    const startTime = child.pid === undefined
      ? 0
      : readStartTimeSync(child.pid, { procRoot: this.procRoot, includeZombies: true }) ?? Date.now()
    const record: ManagedRecord = {
      managedId,
      argv,
      pid: child.pid ?? 0,
      startTime,
      requestedBy,
      child,
      output: new OutputBuffer(this.ringBufferBytes),
      file: new CappedLogFile(join(this.logsDir, `${managedId}.log`), this.maxLogFileBytes, this.log),
      exitCode: null,
      signal: null,
      exitedAt: null,
      outputDone: false,
      waiters: new Set()
    }
    // attached before the event loop turns: no output and no exit can be missed
    child.stdout?.on('data', (chunk: Buffer) => { this.onOutput(record, 'stdout', chunk) })
    child.stderr?.on('data', (chunk: Buffer) => { this.onOutput(record, 'stderr', chunk) })
    child.on('exit', (code, sig) => { this.onExit(record, code, sig) })
    child.on('close', () => { this.onClose(record) })
    await new Promise<void>((resolve, reject) => {
      const onSpawn = (): void => { child.off('error', onError); resolve() }
      const onError = (err: Error): void => { child.off('spawn', onSpawn); reject(err) }
      child.once('spawn', onSpawn)
      child.once('error', onError)
    }).catch((err: unknown) => {
      child.removeAllListeners()
      child.on('error', () => {})
      child.stdout?.destroy()
      child.stderr?.destroy()
      throw new ProcmeshError('SPAWN_FAILED', `${argv[0]}: ${errorMessage(err)}`)
    })
    // later errors (a failed kill) must not become an uncaught 'error' event
    child.on('error', (err: Error) => { this.log.warn('managed process %s: %s', managedId, err.message) })
    this.records.set(managedId, record)
    return record
  }

  private onOutput (record: ManagedRecord, stream: StreamName, chunk: Buffer): void {
    record.output.write(stream, chunk)
    if (this.running) record.file.write(chunk)
    this.wake(record)
  }

  private onExit (record: ManagedRecord, code: number | null, signal: NodeJS.Signals | null): void {
    if (record.exitedAt !== null) return
    record.exitCode = code
    record.signal = signal
    record.exitedAt = Date.now()
    if (!record.outputDone) {
      record.drainTimer = setTimeout(() => {
        record.drainTimer = undefined
        record.outputDone = true
        this.wake(record)
      }, EXIT_DRAIN_MS)
      record.drainTimer.unref()
    }
    try {
      this.onExitHook?.(this.info(record))
    } catch (err: unknown) {
      this.log.warn('onExit hook failed: %s', errorMessage(err))
    }
    this.wake(record)
  }

  private onClose (record: ManagedRecord): void {
    clearTimeout(record.drainTimer)
    record.drainTimer = undefined
    // output is done once the log file has it all: a follow that ends can rely on the file
    record.file.close()
      .catch((err: unknown) => { this.log.warn('closing %s: %s', record.file.path, errorMessage(err)) })
      .finally(() => {
        record.outputDone = true
        this.wake(record)
      })
  }

  private wake (record: ManagedRecord): void {
    if (record.waiters.size === 0) return
    for (const wake of [...record.waiters]) wake()
  }

  private finished (record: ManagedRecord): boolean {
    return record.exitedAt !== null && record.outputDone
  }

  /** Resolves at the record's next output or exit, or when signal aborts. */
  private async changed (record: ManagedRecord, signal: AbortSignal): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => {
        record.waiters.delete(done)
        signal.removeEventListener('abort', done)
        resolve()
      }
      record.waiters.add(done)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  private logsEnd (record: ManagedRecord, cursor: OutputCursor): LogsEnd {
    return { exited: record.exitedAt !== null, exitCode: record.exitCode, signal: record.signal, truncated: cursor.truncated }
  }

  private info (r: ManagedRecord): ManagedInfo {
    return {
      managedId: r.managedId,
      argv: [...r.argv],
      pid: r.pid,
      startTime: r.startTime,
      requestedBy: r.requestedBy,
      exitCode: r.exitCode,
      signal: r.signal,
      exitedAt: r.exitedAt,
      logFile: r.file.exists ? r.file.path : null,
      logTruncated: r.file.truncated,
      outputBytes: r.output.ends()
    }
  }

  /** Drop exited records past keepExitedMs, then the oldest exited ones until `room` more fit. */
  private evict (now: number, room: number): void {
    const exited = [...this.records.values()].filter(r => r.exitedAt !== null).sort((a, b) => (a.exitedAt ?? 0) - (b.exitedAt ?? 0))
    for (const r of exited) {
      const expired = now - (r.exitedAt ?? now) >= this.keepExitedMs
      if (!expired && this.records.size + room <= this.maxKept) break
      this.remove(r)
    }
  }

  private remove (record: ManagedRecord): void {
    this.records.delete(record.managedId)
    clearTimeout(record.drainTimer)
    record.drainTimer = undefined
    // a follower still waiting for a straggler's output ends now
    record.outputDone = true
    this.wake(record)
    const file = record.file
    file.close()
      .then(async () => { if (file.exists) await unlink(file.path) })
      .catch((err: unknown) => { if (errnoCode(err) !== 'ENOENT') this.log.warn('removing %s: %s', file.path, errorMessage(err)) })
  }

  /** Log files an earlier life left behind are kept for post-mortems, but not beyond keepExitedMs. */
  private async pruneOldLogFiles (): Promise<void> {
    const cutoff = Date.now() - this.keepExitedMs
    for (const name of await readdir(this.logsDir)) {
      if (!/^m[a-z0-9]+\.log$/.test(name)) continue
      const path = join(this.logsDir, name)
      try {
        if ((await stat(path)).mtimeMs < cutoff) await unlink(path)
      } catch (err: unknown) {
        if (errnoCode(err) !== 'ENOENT') this.log.warn('pruning %s: %s', path, errorMessage(err))
      }
    }
  }

  private replay (entry: StateEntry): void {
    const key = requestKey(entry.by, entry.id)
    // re-inserted so Map order follows the latest line (trimRemembered drops from the front)
    this.remembered.delete(key)
    if (entry.t === 'pending') this.remembered.set(key, { state: 'unknown', fp: entry.fp, managedId: entry.managedId, at: entry.at })
    else if (entry.t === 'started') this.remembered.set(key, { state: 'started', fp: entry.fp, result: { managedId: entry.managedId, pid: entry.pid, startTime: entry.startTime }, at: entry.at })
  }

  private trimRemembered (): void {
    for (const [key, value] of this.remembered) {
      if (this.remembered.size <= MAX_REMEMBERED_STARTS) break
      if (value.state !== 'pending') this.remembered.delete(key)
    }
  }

  private stateSnapshot (): StateEntry[] {
    const out: StateEntry[] = []
    for (const [key, r] of this.remembered) {
      const [by, id] = splitKey(key)
      if (r.state === 'started') out.push({ t: 'started', by, id, fp: r.fp, managedId: r.result.managedId, pid: r.result.pid, startTime: r.result.startTime, at: r.at })
      else out.push({ t: 'pending', by, id, fp: r.fp, managedId: r.managedId, at: r.at })
    }
    return out
  }
}

// ---- helpers ----

const KEY_SEPARATOR = '\n'

/** Request ids are the requester's: another peer cannot claim (or learn the result of) mine. */
function requestKey (requestedBy: string, requestId: string): string {
  return `${requestedBy}${KEY_SEPARATOR}${requestId}`
}

function splitKey (key: string): [string, string] {
  const at = key.lastIndexOf(KEY_SEPARATOR)
  return [key.slice(0, at), key.slice(at + 1)]
}

/** What a start asks for, so a reused id with a different command is caught (exported for tests). */
export function startFingerprint (req: StartRequest): string {
  const env = Object.entries(req.env ?? {}).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
  return createHash('sha256').update(JSON.stringify([req.argv, req.cwd ?? null, env])).digest('base64url')
}

function reusedIdError (requestId: string): ProcmeshError {
  return new ProcmeshError('REFUSED', `request id ${requestId} was already used for a different start`)
}

/** 'm' + time + randomness in base 36: short, unique across restarts, sortable by start. */
export function newManagedId (): string {
  return `m${Date.now().toString(36)}${randomBytes(6).readUIntBE(0, 6).toString(36).padStart(10, '0')}`
}

async function checkCwd (cwd: string): Promise<string> {
  if (!isAbsolute(cwd)) throw new ProcmeshError('INVALID_REQUEST', `cwd ${cwd}: must be an absolute path`)
  let info: Stats
  try {
    info = await stat(cwd)
  } catch (err: unknown) {
    const code = errnoCode(err)
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ProcmeshError('SPAWN_FAILED', `cwd ${cwd}: no such directory`)
    if (code === 'EACCES') throw new ProcmeshError('SPAWN_FAILED', `cwd ${cwd}: permission denied`)
    throw new ProcmeshError('SPAWN_FAILED', `cwd ${cwd}: ${errorMessage(err)}`)
  }
  if (!info.isDirectory()) throw new ProcmeshError('SPAWN_FAILED', `cwd ${cwd}: not a directory`)
  return cwd
}

/**
 * The file argv[0] names, resolved as execvp would (a name with a slash is a path relative to
 * cwd; otherwise the PATH the child gets), so a missing or non-executable command is a clear
 * error before anything is recorded, and the spawn runs exactly the file we checked. Empty and
 * relative PATH entries are skipped: they mean "the cwd", a classic way to run the wrong binary.
 */
async function resolveCommand (command: string, path: string, cwd: string): Promise<string> {
  if (command.includes('/')) {
    const file = resolvePath(cwd, command)
    await checkExecutable(file, command)
    return file
  }
  let notExecutable: string | undefined
  for (const dir of path.split(':')) {
    if (dir === '' || !isAbsolute(dir)) continue
    const file = join(dir, command)
    let info: Stats
    try {
      info = await stat(file)
    } catch {
      continue
    }
    if (!info.isFile()) continue
    try {
      await access(file, fsConstants.X_OK)
      return file
    } catch {
      notExecutable ??= file
    }
  }
  if (notExecutable !== undefined) throw new ProcmeshError('SPAWN_FAILED', `not executable: ${notExecutable}`)
  throw new ProcmeshError('SPAWN_FAILED', `command not found: ${command}`)
}

async function checkExecutable (file: string, command: string): Promise<void> {
  let info: Stats
  try {
    info = await stat(file)
  } catch {
    throw new ProcmeshError('SPAWN_FAILED', `command not found: ${command}`)
  }
  if (info.isDirectory()) throw new ProcmeshError('SPAWN_FAILED', `not executable: ${file} (a directory)`)
  try {
    await access(file, fsConstants.X_OK)
  } catch {
    throw new ProcmeshError('SPAWN_FAILED', `not executable: ${file}`)
  }
}

function positiveInt (value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} ${value}: must be a positive integer`)
  return value
}

function nonNegative (value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} ${value}: must be a non-negative number`)
  return value
}
