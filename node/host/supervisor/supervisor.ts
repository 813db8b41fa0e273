/**
 * The managed-process supervisor: the server side of start, logs, ls, restart and rm.
 *
 * - start: argv only (never a shell), cwd and command checked before anything is recorded, the
 *   outcome recorded durably BEFORE it is acknowledged (THREATS.md invariant 4): a `pending` line
 *   (fsync) before the spawn, a `started` line and the record (fsync) before the answer. A retry
 *   with the same request id, concurrent or after a crash and restart, gets the same process.
 * - independence: a process writes its output to its own log files (log-files.ts), in its own
 *   session, so the node's death (any signal), upgrade or restart never kills, blocks or breaks it.
 * - records (records-file.ts) persist in the home; a starting node re-adopts every running record
 *   whose pid still has the recorded start time (never a reused pid), marks the others exited
 *   while it was down, and starts again those whose restart policy says so (reboots included).
 * - restart policies (protocols/managed.ts): exponential backoff with jitter, reset after a stable
 *   run, a crash-loop state when the budget is spent. A stop through procmesh is never restarted.
 *
 * Stopping the supervisor does NOT stop its processes: a node restart or upgrade is not a request
 * to stop workloads, and a signal nobody with the `control` role asked for would break invariant 2.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, watch, type FSWatcher } from 'node:fs'
import { mkdir, readdir, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import { ProcmeshError, errnoCode, errorMessage } from '../../../protocols/errors.js'
import {
  NO_RESTART, STABLE_UPTIME_MS, backoffDelay, findManaged, wantsRestart,
  type ManagedProcess, type ManagedState, type RestartPolicy
} from '../../../protocols/managed.js'
import {
  validateArgv, validateEnv, type LogChunk, type LogsEnd, type StartRequest, type StartResult
} from '../../../protocols/messages.js'
import type { Logger } from '../../logger.js'
import { DEFAULT_PROC_ROOT, readStartTimeSync } from '../process-control.js'
import {
  ADOPTED_POLL_MS, DEFAULT_CWD, DEFAULT_PATH, EVICT_INTERVAL_MS, EXIT_DRAIN_MS, KEEP_EXITED_MS, LOG_CHUNK_BYTES,
  MAX_CONCURRENT_STARTS, MAX_KEPT, MAX_LISTED_ARGV_BYTES, MAX_LOG_FILE_BYTES, MAX_REMEMBERED_STARTS, RESTART_GRACE_MS,
  RING_BUFFER_BYTES, STREAMS, TAIL_POLL_MS, type StreamName
} from './limits.js'
import { LOG_FILE_NAME, LogFiles } from './log-files.js'
import { OutputBuffer, type OutputCursor } from './output-buffer.js'
import { RecordsFile, type LastExit, type StoredRecord } from './records-file.js'
import { findRunHolder } from './run-holder.js'
import { checkCwd, resolveCommand } from './spawn-checks.js'
import { StateLog, type Remembered, type StateEntry } from './state-log.js'

export interface SupervisorInit {
  /** directory of the per-process log files (created 0700) */
  logsDir: string
  /**
   * JSON-lines file of start outcomes (created 0600). Without it, request ids are remembered in
   * memory only, so a retry after a node restart could start a second process: production nodes
   * always pass one (in the node's home).
   */
  stateFile?: string
  /** the records (managed.json); without it nothing is re-adopted after a restart */
  recordsFile?: string
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
  /** a run at least this long resets the backoff and the budget (default STABLE_UPTIME_MS) */
  stableUptimeMs?: number
  /** grace before KILL when restart or rm stops a process (default RESTART_GRACE_MS) */
  stopGraceMs?: number
  /** called once per process exit (audit, tests) */
  onExit?: (info: ManagedInfo) => void
  /** exits, restarts, crash loops and removals, for the audit log and notices */
  onEvent?: (event: SupervisorEvent) => void
  /** the node's name, for messages that travel to another host's user (default "this node") */
  nodeName?: string
}

/** What the supervisor reports: `exit` says what comes next; `restart` says who asked. */
export type SupervisorEvent =
  | { kind: 'exit', info: ManagedInfo, next: 'restart' | 'crash-loop' | 'none', delayMs?: number }
  | { kind: 'restart', info: ManagedInfo, by: string | null, reason: string }
  | { kind: 'remove', info: ManagedInfo, by: string }

/** A managed process as list() reports it. */
export interface ManagedInfo {
  managedId: string
  name: string | null
  argv: string[]
  pid: number
  /** ms epoch, computed as the collector computes it */
  startTime: number
  /** the peer (or `local`) whose request started it */
  requestedBy: string
  state: ManagedState
  policy: RestartPolicy
  restarts: number
  /** how the current run ended (all null while it runs); exitCode null and signal null: unknown */
  exitCode: number | null
  /** the signal that ended it, as Node names it (`SIGKILL`) */
  signal: string | null
  exitedAt: number | null
  /** the exit happened while no node was running: its code is unknown */
  exitedWhileDown: boolean
  nextRestartAt: number | null
  /** the stdout log file (stderr is next to it: logFiles) */
  logFile: string
  logFiles: Record<StreamName, string>
  /** a log file was trimmed at its cap */
  logTruncated: boolean
  /** bytes written to each stream so far (as far as the node read them) */
  outputBytes: Record<StreamName, number>
}

interface ManagedRecord {
  stored: StoredRecord
  /** this life's child for the current run; undefined for an adopted process */
  child?: ChildProcess
  runStartedAt: number
  exitedAt: number | null
  exitCode: number | null
  signal: string | null
  exitedWhileDown: boolean
  output: OutputBuffer
  files: LogFiles
  /** the run exited and its output was read to the end (or EXIT_DRAIN_MS passed) */
  outputDone: boolean
  drainTimer?: NodeJS.Timeout
  restartTimer?: NodeJS.Timeout
  nextRestartAt: number | null
  pollQueued: boolean
  waiters: Set<() => void>
  /** a restart or rm in progress */
  busy: boolean
  /** the executable argv[0] resolved to at the last successful spawn: restarts skip the PATH walk */
  file?: string
}

/** Signals that end a process when it does nothing special: a stop through procmesh with one is not restarted. */
const STOPPING_SIGNALS: ReadonlySet<string> = new Set(['TERM', 'KILL', 'INT', 'QUIT'])

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
  private readonly stableUptimeMs: number
  private readonly stopGraceMs: number
  private readonly onExitHook?: (info: ManagedInfo) => void
  private readonly onEventHook?: (event: SupervisorEvent) => void
  private readonly records = new Map<string, ManagedRecord>()
  private readonly remembered = new Map<string, Remembered>()
  private readonly inFlight = new Map<string, { fp: string, promise: Promise<StartResult> }>()
  /** names of starts in progress */
  private readonly reservedNames = new Set<string>()
  private readonly recordsFile?: RecordsFile
  private launching = 0
  private state?: StateLog
  private timers: NodeJS.Timeout[] = []
  private watcher?: FSWatcher
  private running = false

  /** `on web2`: where this supervisor runs, as a remote user reads it */
  private readonly where: string

  constructor (init: SupervisorInit) {
    this.logsDir = init.logsDir
    this.stateFile = init.stateFile
    this.log = init.log
    this.maxKept = positiveInt(init.maxKept, MAX_KEPT, 'maxKept')
    this.keepExitedMs = nonNegative(init.keepExitedMs, KEEP_EXITED_MS, 'keepExitedMs')
    this.maxConcurrentStarts = positiveInt(init.maxConcurrentStarts, MAX_CONCURRENT_STARTS, 'maxConcurrentStarts')
    this.baseEnv = Object.freeze({ ...(init.baseEnv ?? { PATH: DEFAULT_PATH }) })
    this.defaultCwd = init.defaultCwd ?? DEFAULT_CWD
    this.where = init.nodeName !== undefined ? `on ${init.nodeName}` : 'on this node'
    this.ringBufferBytes = positiveInt(init.ringBufferBytes, RING_BUFFER_BYTES, 'ringBufferBytes')
    this.maxLogFileBytes = positiveInt(init.maxLogFileBytes, MAX_LOG_FILE_BYTES, 'maxLogFileBytes')
    this.procRoot = init.procRoot ?? DEFAULT_PROC_ROOT
    this.stableUptimeMs = nonNegative(init.stableUptimeMs, STABLE_UPTIME_MS, 'stableUptimeMs')
    this.stopGraceMs = nonNegative(init.stopGraceMs, RESTART_GRACE_MS, 'stopGraceMs')
    this.onExitHook = init.onExit
    this.onEventHook = init.onEvent
    if (init.recordsFile !== undefined) this.recordsFile = new RecordsFile(init.recordsFile, init.log, () => this.storedSnapshot())
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
    const toRestart: ManagedRecord[] = []
    for (const stored of await this.recordsFile?.load() ?? []) {
      if (this.records.has(stored.managedId)) continue
      if (this.restore(stored)) toRestart.push(this.records.get(stored.managedId) as ManagedRecord)
    }
    await this.pruneOldLogFiles()
    try {
      // one inotify watch for every log file: output reaches the rings (and followers) at once
      this.watcher = watch(this.logsDir, { persistent: true }, (_event, filename) => { this.onFileEvent(filename) })
      this.watcher.on('error', (err: unknown) => { this.log.warn('watching %s: %s; polling instead', this.logsDir, errorMessage(err)) })
    } catch (err: unknown) {
      this.log.warn('cannot watch %s (%s): log output is polled every %d ms', this.logsDir, errorMessage(err), TAIL_POLL_MS)
    }
    this.timers = [
      setInterval(() => { this.evict(Date.now(), 0) }, EVICT_INTERVAL_MS),
      setInterval(() => { for (const r of this.records.values()) this.pollOutput(r) }, TAIL_POLL_MS),
      setInterval(() => { this.checkAdopted() }, ADOPTED_POLL_MS)
    ]
    for (const t of this.timers) t.unref()
    this.running = true
    for (const record of toRestart) await this.policyRestart(record, 'the node started and found it not running')
    await this.saveRecords()
  }

  /** Stops timers and closes files. Processes keep running (see the top of this file). */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    this.watcher?.close()
    this.watcher = undefined
    await Promise.allSettled([...this.inFlight.values()].map(async f => await f.promise))
    for (const record of this.records.values()) {
      clearTimeout(record.drainTimer)
      record.drainTimer = undefined
      // a pending restart stays `restarting` in the records file: the next node start does it
      clearTimeout(record.restartTimer)
      record.restartTimer = undefined
      this.pollOutput(record)
      record.files.close()
      // the process that stopped us may now exit: nothing of it waits for the children
      record.child?.unref()
      for (const wake of [...record.waiters]) wake()
    }
    await this.saveRecords()
    await this.state?.close()
    this.state = undefined
  }

  /**
   * Start a process, or return the process an earlier request with the same id (from the same
   * requester) started. Throws ProcmeshError: SPAWN_FAILED (bad cwd, command not found or not
   * executable, exec failed), BUSY (too many starts in progress or processes kept), REFUSED (the
   * id was used for a different start, or its outcome was lost in a crash, or the name is taken),
   * SERVER_ERROR (the outcome could not be recorded durably: nothing is left running).
   */
  async startProcess (req: StartRequest, requestedBy: string): Promise<StartResult> {
    if (!this.running) throw new ProcmeshError('UNAVAILABLE', 'the supervisor is not running')
    const key = requestKey(requestedBy, req.requestId)
    const fp = startFingerprint(req)
    const known = this.remembered.get(key)
    if (known !== undefined && known.state !== 'pending') {
      if (known.fp !== fp) throw reusedIdError(req.requestId)
      if (known.state === 'started') return { ...known.result }
      throw new ProcmeshError('OUTCOME_UNKNOWN', `start ${req.requestId} was interrupted by a node restart before its outcome was recorded: ` +
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
  managedByPid (): Map<number, { managedId: string, startedBy: string, startTime: number, name: string | null }> {
    const out = new Map<number, { managedId: string, startedBy: string, startTime: number, name: string | null }>()
    for (const r of this.records.values()) {
      if (r.stored.state === 'running' && r.exitedAt === null) out.set(r.stored.pid, { managedId: r.stored.managedId, startedBy: r.stored.requestedBy, startTime: r.stored.startTime, name: r.stored.name })
    }
    return out
  }

  /** Every kept record, oldest first. */
  list (): ManagedInfo[] {
    return [...this.records.values()].map(r => this.info(r))
  }

  /** One record by managed id, name or current pid, or undefined. */
  get (ref: string): ManagedInfo | undefined {
    const r = this.resolve(ref)
    return r === undefined ? undefined : this.info(r)
  }

  /** The records as the managed-list protocol carries them (CPU and RSS are the sampler's to add). */
  managed (): ManagedProcess[] {
    return [...this.records.values()].map(r => {
      const s = r.stored
      return {
        managedId: s.managedId,
        name: s.name,
        argv: clipArgv(s.argv),
        pid: s.pid,
        startTime: s.startTime,
        state: s.state,
        policy: { ...s.policy },
        restarts: s.restarts,
        requestedBy: s.requestedBy,
        lastExit: s.lastExit === null ? null : { ...s.lastExit },
        nextRestartAt: r.nextRestartAt,
        cpuPercent: null,
        rss: null
      }
    })
  }

  /**
   * A stop through procmesh is about to signal pid: when it is a running managed process and the
   * signal ends processes, its exit is not restarted. Returns the managed id it names, if any.
   */
  noteStop (pid: number, startTime: number, signal: string): string | undefined {
    for (const r of this.records.values()) {
      if (r.stored.pid !== pid || r.stored.startTime !== startTime || r.exitedAt !== null) continue
      if (STOPPING_SIGNALS.has(signal)) {
        r.stored.stopRequested = true
        this.saveRecordsLater()
      }
      return r.stored.managedId
    }
    return undefined
  }

  /**
   * Stop a managed process (TERM, KILL after the grace period) and start it again with the same
   * id, argv, cwd and env; the budget starts afresh. NOT_FOUND, BUSY (a restart or rm of it is
   * in progress), SPAWN_FAILED (it cannot be started again: it stays exited).
   */
  async restart (ref: string, requestedBy: string | null): Promise<StartResult> {
    if (!this.running) throw new ProcmeshError('UNAVAILABLE', 'the supervisor is not running')
    const record = this.mustResolve(ref)
    if (record.busy) throw new ProcmeshError('BUSY', `${describe(record)} is already being restarted or removed`)
    record.busy = true
    try {
      if (record.exitedAt === null) {
        record.stored.stopRequested = true
        await this.terminate(record)
      }
      this.cancelRestart(record)
      try {
        await this.spawnRun(record)
      } catch (err: unknown) {
        record.stored.state = 'exited'
        this.saveRecordsLater()
        throw err
      }
      record.stored.restarts++
      record.stored.streak = 0
      await this.saveRecords()
      this.emit({ kind: 'restart', info: this.info(record), by: requestedBy, reason: 'restart requested' })
      return { managedId: record.stored.managedId, pid: record.stored.pid, startTime: record.stored.startTime }
    } finally {
      record.busy = false
    }
  }

  /** Forget a record: its process is stopped first (TERM, then KILL after the grace period), its log files deleted. */
  async remove (ref: string, requestedBy: string): Promise<{ managedId: string, name: string | null, stopped: boolean }> {
    if (!this.running) throw new ProcmeshError('UNAVAILABLE', 'the supervisor is not running')
    const record = this.mustResolve(ref)
    if (record.busy) throw new ProcmeshError('BUSY', `${describe(record)} is already being restarted or removed`)
    record.busy = true
    let stopped = false
    try {
      if (record.exitedAt === null) {
        record.stored.stopRequested = true
        await this.terminate(record)
        stopped = true
      }
      this.cancelRestart(record)
      const info = this.info(record)
      this.removeRecord(record)
      await this.saveRecords()
      this.emit({ kind: 'remove', info, by: requestedBy })
      return { managedId: record.stored.managedId, name: record.stored.name, stopped }
    } finally {
      record.busy = false
    }
  }

  /**
   * Send the buffered output of a process (in write order, chunks of at most LOG_CHUNK_BYTES of
   * output), then with follow its new output until it exits or `signal` aborts. A slow reader
   * never holds output back: it reads from the rings, and what they dropped before it got there
   * is skipped (`truncated`). ref: managed id, name or current pid. NOT_FOUND for an unknown one.
   */
  async logs (ref: string, follow: boolean, onChunk: (c: LogChunk) => Promise<void>, signal: AbortSignal): Promise<LogsEnd> {
    const record = this.resolve(ref)
    if (record === undefined) throw new ProcmeshError('NOT_FOUND', `no managed process ${ref} ${this.where} (not a managed id, name or pid of one)`)
    this.pollOutput(record)
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
      if (!follow || this.finished(record) || !this.running || signal.aborted || !this.records.has(record.stored.managedId)) break
      await this.changed(record, signal)
    }
    for (const stream of STREAMS) {
      const rest = decoders[stream].end()
      if (rest !== '' && !signal.aborted) await onChunk({ stream, data: rest })
    }
    return this.logsEnd(record, cursor)
  }

  // ---- internals: starting ----

  private async launch (req: StartRequest, requestedBy: string, key: string, fp: string): Promise<StartResult> {
    // the protocol layer validated these already; the supervisor does not rely on every caller doing so
    const argv = validateArgv(req.argv)
    const requestEnv = req.env === undefined ? {} : validateEnv(req.env)
    const env = { ...this.baseEnv, ...requestEnv }
    const cwd = await checkCwd(req.cwd ?? this.defaultCwd)
    const file = await resolveCommand(argv[0], env.PATH ?? '', cwd)
    const name = req.name ?? null
    if (name !== null) {
      const holder = [...this.records.values()].find(r => r.stored.name === name)
      if (holder !== undefined || this.reservedNames.has(name)) {
        throw new ProcmeshError('REFUSED', `name ${name} is taken ${this.where}${holder !== undefined ? ` by ${holder.stored.managedId} (${holder.stored.state}); procmesh rm it first or choose another name` : ' by a start in progress'}`)
      }
    }

    this.evict(Date.now(), 1 + this.launching)
    if (this.records.size + this.launching >= this.maxKept) {
      throw new ProcmeshError('BUSY', `${this.records.size} managed processes are kept, the most this node keeps (${this.maxKept}); procmesh rm some`)
    }
    this.launching++
    if (name !== null) this.reservedNames.add(name)
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

      const record = this.newRecord({
        managedId, name, argv, cwd, env: requestEnv, requestedBy, policy: req.policy ?? { ...NO_RESTART },
        createdAt: at, pid: 0, startTime: 0, state: 'running', restarts: 0, streak: 0, lastExit: null, stopRequested: false
      })
      try {
        await this.spawnRun(record, file)
      } catch (err: unknown) {
        record.files.remove()
        this.remembered.delete(key)
        await this.state?.append({ t: 'failed', by: requestedBy, id: req.requestId, at: Date.now() }).catch((e: unknown) => {
          // the pending line stays: after a restart a retry is refused rather than run twice
          this.log.warn('state file: could not record failed start %s: %s', req.requestId, errorMessage(e))
        })
        throw err
      }
      this.records.set(managedId, record)

      const result: StartResult = { managedId, pid: record.stored.pid, startTime: record.stored.startTime }
      try {
        await Promise.all([
          this.state?.append({ t: 'started', by: requestedBy, id: req.requestId, fp, managedId, pid: result.pid, startTime: result.startTime, at: Date.now() }),
          this.saveRecords(true)
        ])
      } catch (err: unknown) {
        // an acknowledgement must be backed by durable state: undo the start. The child is ours and
        // not yet reaped (Node reaps on 'exit'), so its pid still names it.
        record.stored.stopRequested = true
        if (record.exitedAt === null) record.child?.kill('SIGKILL')
        this.remembered.set(key, { state: 'unknown', fp, managedId, at })
        this.log.error('start %s undone: cannot record it durably: %s', req.requestId, errorMessage(err))
        throw new ProcmeshError('SERVER_ERROR', `cannot record the start durably (${errorMessage(err)}); the process was killed`)
      }
      this.remembered.set(key, { state: 'started', fp, result, at })
      this.trimRemembered()
      // the command only, not its arguments: they may carry secrets (the audit log is the record)
      this.log.info('started %s%s (pid %d) for %s: %s with %d argument(s)', managedId, name !== null ? ` (${name})` : '', result.pid, requestedBy, JSON.stringify(argv[0]), argv.length - 1)
      return result
    } finally {
      this.launching--
      if (name !== null) this.reservedNames.delete(name)
    }
  }

  private newRecord (stored: StoredRecord): ManagedRecord {
    return {
      stored,
      runStartedAt: stored.startTime,
      exitedAt: null,
      exitCode: null,
      signal: null,
      exitedWhileDown: false,
      output: new OutputBuffer(this.ringBufferBytes),
      files: new LogFiles(this.logsDir, stored.managedId, this.maxLogFileBytes, this.log),
      outputDone: false,
      nextRestartAt: null,
      pollQueued: false,
      waiters: new Set(),
      busy: false
    }
  }

  /**
   * Start a run of the record's command: output to its log files (opened O_APPEND, closed here
   * right after the spawn: only the child holds them), its own session. The record's run fields
   * change only once the process exists.
   */
  private async spawnRun (record: ManagedRecord, checkedFile?: string): Promise<void> {
    const s = record.stored
    const env = { ...this.baseEnv, ...s.env }
    // a restart reuses the file that worked; a failed spawn forgets it, so the next one checks again
    const file = checkedFile ?? record.file ?? await resolveCommand(s.argv[0], env.PATH ?? '', await checkCwd(s.cwd))
    record.file = undefined
    let fds: Record<StreamName, number>
    try {
      fds = record.files.openForChild()
    } catch (err: unknown) {
      throw new ProcmeshError('SPAWN_FAILED', `${s.argv[0]}: cannot open its log files: ${errorMessage(err)}`)
    }
    let child: ChildProcess
    try {
      // detached: its own session and process group, so a terminal hang-up or a signal to the
      // node's group never reaches it, and a stop can find its subtree. Stops never signal the
      // group (negative pids are refused).
      child = spawn(file, s.argv.slice(1), {
        argv0: s.argv[0], cwd: s.cwd, env, shell: false, stdio: ['ignore', fds.stdout, fds.stderr], detached: true, windowsHide: true
      })
    } catch (err: unknown) {
      throw new ProcmeshError('SPAWN_FAILED', `${s.argv[0]}: ${errorMessage(err)}`)
    } finally {
      closeQuietly(fds.stdout)
      closeQuietly(fds.stderr)
    }
    // read now, synchronously: until the event loop runs Node cannot have reaped the child, so
    // even a child that already exited is still there (a zombie) with its start time
    const startTime = child.pid === undefined
      ? 0
      : readStartTimeSync(child.pid, { procRoot: this.procRoot, includeZombies: true }) ?? Date.now()
    await new Promise<void>((resolve, reject) => {
      const onSpawn = (): void => { child.off('error', onError); resolve() }
      const onError = (err: Error): void => { child.off('spawn', onSpawn); reject(err) }
      child.once('spawn', onSpawn)
      child.once('error', onError)
    }).catch((err: unknown) => {
      child.removeAllListeners()
      child.on('error', () => {})
      throw new ProcmeshError('SPAWN_FAILED', `${s.argv[0]}: ${errorMessage(err)}`)
    })
    clearTimeout(record.drainTimer)
    record.drainTimer = undefined
    record.file = file
    record.child = child
    s.pid = child.pid ?? 0
    s.startTime = startTime
    s.state = 'running'
    s.stopRequested = false
    record.runStartedAt = Date.now()
    record.exitedAt = null
    record.exitCode = null
    record.signal = null
    record.exitedWhileDown = false
    record.outputDone = false
    record.nextRestartAt = null
    // later errors (a failed kill) must not become an uncaught 'error' event
    child.on('error', (err: Error) => { this.log.warn('managed process %s: %s', s.managedId, err.message) })
    child.on('exit', (code, sig) => { if (record.child === child) this.onExit(record, code, sig, false) })
    record.files.open(record.output)
  }

  // ---- internals: exits and restarts ----

  private onExit (record: ManagedRecord, code: number | null, signal: string | null, unknown: boolean): void {
    // during shutdown: the next node start sees it gone and reports it (exited while down)
    if (!this.running || record.exitedAt !== null) return
    const now = Date.now()
    record.child = undefined
    record.exitedAt = now
    record.exitCode = code
    record.signal = signal
    record.stored.lastExit = { code, signal, at: now, whileDown: false }
    this.pollOutput(record)
    record.drainTimer = setTimeout(() => {
      record.drainTimer = undefined
      this.pollOutput(record)
      record.files.close()
      record.files.removeEmpty()
      record.outputDone = true
      this.wake(record)
    }, EXIT_DRAIN_MS)
    record.drainTimer.unref()
    this.afterExit(record, { code, signal, unknown })
    try {
      this.onExitHook?.(this.info(record))
    } catch (err: unknown) {
      this.log.warn('onExit hook failed: %s', errorMessage(err))
    }
    this.saveRecordsLater()
    this.wake(record)
  }

  /** What comes after an exit: stopped, exited, a restart after a delay, or the crash-loop state. */
  private afterExit (record: ManagedRecord, exit: { code: number | null, signal: string | null, unknown: boolean }): void {
    const s = record.stored
    const exitedAt = record.exitedAt ?? Date.now()
    if (s.stopRequested) {
      s.state = 'stopped'
      this.emit({ kind: 'exit', info: this.info(record), next: 'none' })
      return
    }
    if (!wantsRestart(s.policy.restart, exit)) {
      s.state = 'exited'
      this.emit({ kind: 'exit', info: this.info(record), next: 'none' })
      return
    }
    if (exitedAt - record.runStartedAt >= this.stableUptimeMs) s.streak = 0
    s.streak++
    if (s.streak > s.policy.maxRestarts) {
      s.state = 'crash-loop'
      this.log.warn('%s is in a crash loop: %d unstable run(s) in a row; not restarted again until procmesh restart', describe(record), s.streak)
      this.emit({ kind: 'exit', info: this.info(record), next: 'crash-loop' })
      return
    }
    const delayMs = backoffDelay(s.policy, s.streak)
    s.state = 'restarting'
    record.nextRestartAt = Date.now() + delayMs
    record.restartTimer = setTimeout(() => {
      record.restartTimer = undefined
      this.policyRestart(record, `restart policy ${s.policy.restart}`).catch((err: unknown) => { this.log.warn('restarting %s: %s', describe(record), errorMessage(err)) })
    }, delayMs)
    record.restartTimer.unref()
    this.emit({ kind: 'exit', info: this.info(record), next: 'restart', delayMs })
  }

  /** A restart the policy (or a node start) asked for. A failed spawn counts as an unstable run. */
  private async policyRestart (record: ManagedRecord, reason: string): Promise<void> {
    record.nextRestartAt = null
    if (!this.running || record.busy || record.stored.state !== 'restarting' || !this.records.has(record.stored.managedId)) return
    try {
      await this.spawnRun(record)
    } catch (err: unknown) {
      this.log.warn('%s could not be started again: %s', describe(record), errorMessage(err))
      const now = Date.now()
      record.runStartedAt = now
      record.exitedAt = now
      record.stored.lastExit = { code: null, signal: null, at: now, whileDown: false }
      this.afterExit(record, { code: null, signal: null, unknown: true })
      this.saveRecordsLater()
      return
    }
    record.stored.restarts++
    this.log.info('restarted %s (pid %d): %s', describe(record), record.stored.pid, reason)
    this.emit({ kind: 'restart', info: this.info(record), by: null, reason })
    this.saveRecordsLater()
  }

  private cancelRestart (record: ManagedRecord): void {
    clearTimeout(record.restartTimer)
    record.restartTimer = undefined
    record.nextRestartAt = null
  }

  /** TERM, wait up to stopGraceMs, KILL, wait: the record's run has exited when this resolves (or it could not be stopped). */
  private async terminate (record: ManagedRecord): Promise<void> {
    const signalIt = (sig: NodeJS.Signals): boolean => {
      if (record.exitedAt !== null) return false
      const { pid, startTime } = record.stored
      // never a reused pid (THREATS.md invariant 2)
      if (readStartTimeSync(pid, { procRoot: this.procRoot }) !== startTime) {
        this.onExit(record, null, null, true)
        return false
      }
      try {
        process.kill(pid, sig)
        return true
      } catch (err: unknown) {
        if (errnoCode(err) === 'ESRCH') return false
        throw new ProcmeshError('OS_DENIED', `cannot signal ${describe(record)} (pid ${pid}): ${errorMessage(err)}`)
      }
    }
    if (signalIt('SIGTERM')) await this.waitExit(record, this.stopGraceMs)
    if (signalIt('SIGKILL')) await this.waitExit(record, 5000)
    if (record.exitedAt === null) throw new ProcmeshError('TIMEOUT', `${describe(record)} (pid ${record.stored.pid}) did not exit after KILL`)
  }

  private async waitExit (record: ManagedRecord, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (record.exitedAt === null && Date.now() < deadline) {
      // an adopted process is not our child: no exit event, /proc tells
      if (record.child === undefined) this.checkAdoptedRecord(record)
      if (record.exitedAt !== null) break
      await new Promise<void>(resolve => {
        const t = setTimeout(done, Math.min(50, Math.max(1, deadline - Date.now())))
        function done (): void { clearTimeout(t); record.waiters.delete(done); resolve() }
        record.waiters.add(done)
      })
    }
  }

  // ---- internals: re-adoption at start ----

  /**
   * Bring back a record an earlier life left. Returns true when it must be started again now
   * (its policy says so and it is not running).
   */
  private restore (stored: StoredRecord): boolean {
    const record = this.newRecord(stored)
    this.records.set(stored.managedId, record)
    if (stored.state === 'running') {
      const now = readStartTimeSync(stored.pid, { procRoot: this.procRoot })
      if (now !== undefined && now === stored.startTime) {
        // the same process (pid and start time): adopt it, and refill the rings from its files
        record.runStartedAt = stored.startTime
        record.files.open(record.output, this.ringBufferBytes)
        record.files.poll(record.output)
        this.log.info('re-adopted %s (pid %d)', describe(record), stored.pid)
        return false
      }
      if (this.adoptUnrecordedRun(record)) return false
      // gone (or its pid now names another process): it exited while no node watched it
      const at = Date.now()
      record.runStartedAt = stored.startTime
      record.exitedAt = at
      record.exitedWhileDown = true
      stored.lastExit = { code: null, signal: null, at, whileDown: true }
      this.loadOldOutput(record)
      this.log.info('%s (pid %d) exited while the node was down%s', describe(record), stored.pid, now !== undefined ? ' (its pid now belongs to another process)' : '')
      if (stored.stopRequested) {
        stored.state = 'stopped'
      } else if (wantsRestart(stored.policy.restart, { code: null, signal: null, unknown: true })) {
        stored.state = 'restarting'
      } else {
        stored.state = 'exited'
      }
      this.emit({ kind: 'exit', info: this.info(record), next: stored.state === 'restarting' ? 'restart' : 'none' })
      return stored.state === 'restarting'
    }
    // the node died while this one waited for its backoff, or just after starting it again
    if (stored.state === 'restarting' && this.adoptUnrecordedRun(record)) return false
    this.setExitFields(record, stored.lastExit)
    this.loadOldOutput(record)
    return stored.state === 'restarting'
  }

  /**
   * A run of this record that the records file does not name (the node died after spawning it,
   * before saving): found by its log files (run-holder.ts) and adopted, never started twice.
   */
  private adoptUnrecordedRun (record: ManagedRecord): boolean {
    const stored = record.stored
    const pid = findRunHolder([record.files.paths.stdout, record.files.paths.stderr], this.procRoot)
    if (pid === undefined || pid === stored.pid) return false
    const startTime = readStartTimeSync(pid, { procRoot: this.procRoot })
    if (startTime === undefined) return false
    stored.pid = pid
    stored.startTime = startTime
    stored.state = 'running'
    // a run after the one the file names: a restart that happened
    stored.restarts++
    record.runStartedAt = startTime
    record.exitedAt = null
    record.files.open(record.output, this.ringBufferBytes)
    record.files.poll(record.output)
    this.log.warn('re-adopted %s (pid %d): started just before the node stopped, before its record was saved; not started again', describe(record), pid)
    return true
  }

  private setExitFields (record: ManagedRecord, exit: LastExit | null): void {
    record.exitedAt = exit?.at ?? record.stored.createdAt
    record.exitCode = exit?.code ?? null
    record.signal = exit?.signal ?? null
    record.exitedWhileDown = exit?.whileDown ?? false
  }

  /** The tail of an exited record's log files into its rings, for `logs`. */
  private loadOldOutput (record: ManagedRecord): void {
    record.files.open(record.output, this.ringBufferBytes)
    record.files.poll(record.output)
    record.files.close()
    record.outputDone = true
  }

  private checkAdopted (): void {
    for (const record of this.records.values()) {
      if (record.child === undefined && record.exitedAt === null) this.checkAdoptedRecord(record)
    }
  }

  private checkAdoptedRecord (record: ManagedRecord): void {
    const { pid, startTime } = record.stored
    if (readStartTimeSync(pid, { procRoot: this.procRoot }) !== startTime) this.onExit(record, null, null, true)
  }

  // ---- internals: output ----

  private onFileEvent (filename: string | Buffer | null): void {
    if (filename === null) return
    const m = LOG_FILE_NAME.exec(filename.toString())
    if (m === null || m[3] !== undefined) return
    const record = this.records.get(m[1])
    if (record === undefined || record.pollQueued) return
    record.pollQueued = true
    // coalesce a burst of writes into one read
    setImmediate(() => {
      record.pollQueued = false
      this.pollOutput(record)
    })
  }

  private pollOutput (record: ManagedRecord): void {
    if (record.files.poll(record.output)) this.wake(record)
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

  // ---- internals: records ----

  private resolve (ref: string): ManagedRecord | undefined {
    const byId = this.records.get(ref)
    if (byId !== undefined) return byId
    const rows = [...this.records.values()].map(record => ({ ...record.stored, record }))
    return findManaged(rows, ref)?.record
  }

  private mustResolve (ref: string): ManagedRecord {
    const record = this.resolve(ref)
    if (record === undefined) throw new ProcmeshError('NOT_FOUND', `no managed process ${ref} ${this.where} (not a managed id, name or pid of one)`)
    return record
  }

  private info (r: ManagedRecord): ManagedInfo {
    const s = r.stored
    return {
      managedId: s.managedId,
      name: s.name,
      argv: [...s.argv],
      pid: s.pid,
      startTime: s.startTime,
      requestedBy: s.requestedBy,
      state: s.state,
      policy: { ...s.policy },
      restarts: s.restarts,
      exitCode: r.exitCode,
      signal: r.signal,
      exitedAt: r.exitedAt,
      exitedWhileDown: r.exitedWhileDown,
      nextRestartAt: r.nextRestartAt,
      logFile: r.files.paths.stdout,
      logFiles: { ...r.files.paths },
      logTruncated: r.files.truncated,
      outputBytes: r.output.ends()
    }
  }

  private emit (event: SupervisorEvent): void {
    try {
      this.onEventHook?.(event)
    } catch (err: unknown) {
      this.log.warn('supervisor event hook failed: %s', errorMessage(err))
    }
  }

  /** Drop exited records without a restart policy past keepExitedMs, then the oldest of them until `room` more fit. */
  private evict (now: number, room: number): void {
    const done = [...this.records.values()]
      .filter(r => r.exitedAt !== null && !r.busy && r.stored.policy.restart === 'no' && (r.stored.state === 'exited' || r.stored.state === 'stopped'))
      .sort((a, b) => (a.exitedAt ?? 0) - (b.exitedAt ?? 0))
    let removed = false
    for (const r of done) {
      const expired = now - (r.exitedAt ?? now) >= this.keepExitedMs
      if (!expired && this.records.size + room <= this.maxKept) break
      this.removeRecord(r)
      removed = true
    }
    if (removed) this.saveRecordsLater()
  }

  private removeRecord (record: ManagedRecord): void {
    this.records.delete(record.stored.managedId)
    clearTimeout(record.drainTimer)
    record.drainTimer = undefined
    this.cancelRestart(record)
    // a follower still waiting ends now
    record.outputDone = true
    if (record.exitedAt === null) record.exitedAt = Date.now()
    this.wake(record)
    record.files.remove()
  }

  private async saveRecords (strict = false): Promise<void> {
    if (this.recordsFile === undefined) return
    try {
      await this.recordsFile.save()
    } catch (err: unknown) {
      if (strict) throw err
      this.log.error('records file: cannot save (%s): a node restart now may not re-adopt every managed process', errorMessage(err))
    }
  }

  private saveRecordsLater (): void {
    this.saveRecords().catch((err: unknown) => { this.log.error('records file: %s', errorMessage(err)) })
  }

  private storedSnapshot (): StoredRecord[] {
    return [...this.records.values()].map(r => ({ ...r.stored }))
  }

  /** Log files an earlier life left behind for records it forgot are kept for post-mortems, but not beyond keepExitedMs. */
  private async pruneOldLogFiles (): Promise<void> {
    const cutoff = Date.now() - this.keepExitedMs
    for (const name of await readdir(this.logsDir)) {
      const m = LOG_FILE_NAME.exec(name) ?? /^(m[a-z0-9]+)\.log$/.exec(name)
      if (m === null || this.records.has(m[1])) continue
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
  // name and policy only when given: fingerprints of plain starts stay what earlier versions wrote
  const extra = req.name !== undefined || req.policy !== undefined ? [req.name ?? null, req.policy ?? null] : []
  return createHash('sha256').update(JSON.stringify([req.argv, req.cwd ?? null, env, ...extra])).digest('base64url')
}

function reusedIdError (requestId: string): ProcmeshError {
  return new ProcmeshError('REFUSED', `request id ${requestId} was already used for a different start`)
}

/** 'm' + time + randomness in base 36: short, unique across restarts, sortable by start. */
export function newManagedId (): string {
  return `m${Date.now().toString(36)}${randomBytes(6).readUIntBE(0, 6).toString(36).padStart(10, '0')}`
}

function describe (record: ManagedRecord): string {
  return record.stored.name !== null ? `${record.stored.name} (${record.stored.managedId})` : record.stored.managedId
}

/** argv for a list: the head of a huge argv is enough to recognise it. */
function clipArgv (argv: readonly string[]): string[] {
  const out: string[] = []
  let total = 0
  for (const a of argv) {
    const room = MAX_LISTED_ARGV_BYTES - total
    if (room <= 0) break
    const piece = Buffer.byteLength(a) <= room ? a : Buffer.from(a).subarray(0, room).toString('utf8')
    out.push(piece)
    total += Buffer.byteLength(piece)
  }
  return out.length > 0 ? out : [argv[0] ?? '?']
}

function closeQuietly (fd: number): void {
  try { closeSync(fd) } catch {}
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
