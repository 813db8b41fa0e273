/**
 * The log files of one managed process, written by the process itself and tailed by the node.
 *
 * Why files the process writes directly, not pipes (and not a holder process): a pipe's reader is
 * the node, so when the node dies the next write gets SIGPIPE/EPIPE (a shell loop dies, an HTTP
 * server answers empty replies), and a slow reader blocks the writer. A holder process per child
 * (pm2's God daemon, supervisord itself, systemd's journald pipe) moves the problem into one more
 * process that can die, and costs memory per child (a Node holder is ~40 MB RSS). A file opened
 * O_APPEND needs nobody: the process writes at kernel speed whether a node runs, restarts or is
 * being upgraded, and the node reads what it needs (the tail for `logs` and its rings) through
 * inotify. The cap is the node's job (copytruncate, see MAX_LOG_FILE_BYTES); the one thing lost
 * is the cap while no node runs.
 */
import { closeSync, constants as fsConstants, fstatSync, ftruncateSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { errnoCode, errorMessage } from '../../../protocols/errors.js'
import type { Logger } from '../../logger.js'
import { STREAMS, TAIL_READ_BYTES, type StreamName } from './limits.js'
import type { OutputBuffer } from './output-buffer.js'

/** `<id>.stdout.log` / `<id>.stderr.log` (and `.1` for the previous segment). */
export function logFilePath (dir: string, managedId: string, stream: StreamName): string {
  return join(dir, `${managedId}.${stream}.log`)
}

/** File names in the logs directory that belong to managed processes, with their managed id. */
export const LOG_FILE_NAME = /^(m[a-z0-9]+)\.(stdout|stderr)\.log(\.1)?$/

// never follow a symlink planted in the logs directory (libuv adds O_CLOEXEC to every open)
const APPEND_FLAGS = fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW
const TAIL_FLAGS = fsConstants.O_RDWR | fsConstants.O_NOFOLLOW

interface Tail { fd: number, offset: number }

export class LogFiles {
  readonly paths: Readonly<Record<StreamName, string>>
  private readonly cap: number
  private readonly log: Logger
  private readonly tails: Partial<Record<StreamName, Tail>> = {}
  /** where the next open continues (bytes already read into the rings), per stream */
  private readonly offsets: Record<StreamName, number> = { stdout: 0, stderr: 0 }
  /** the file was trimmed at least once: its head is in `.1` or gone */
  truncated = false

  constructor (dir: string, managedId: string, cap: number, log: Logger) {
    this.paths = { stdout: logFilePath(dir, managedId, 'stdout'), stderr: logFilePath(dir, managedId, 'stderr') }
    this.cap = cap
    this.log = log
  }

  /**
   * Open both files for a new run of the process (created 0600, appended to after a restart).
   * The caller passes the fds to spawn and closes them right after: the child keeps its copies.
   */
  openForChild (): Record<StreamName, number> {
    const stdout = openSync(this.paths.stdout, APPEND_FLAGS, 0o600)
    try {
      return { stdout, stderr: openSync(this.paths.stderr, APPEND_FLAGS, 0o600) }
    } catch (err: unknown) {
      closeSync(stdout)
      throw err
    }
  }

  /**
   * Start reading new output into `output`. fromEnd: on the first open after a node restart, only
   * the last fromEnd bytes of each file are loaded (what the rings can hold); the rest is skipped.
   */
  open (output: OutputBuffer, fromEnd?: number): void {
    for (const stream of STREAMS) {
      if (this.tails[stream] !== undefined) continue
      let fd: number
      try {
        fd = openSync(this.paths[stream], TAIL_FLAGS)
      } catch (err: unknown) {
        if (errnoCode(err) !== 'ENOENT') this.log.warn('log file %s: %s', this.paths[stream], errorMessage(err))
        continue
      }
      let offset = this.offsets[stream]
      if (fromEnd !== undefined) {
        const size = fstatSync(fd).size
        offset = Math.max(0, size - fromEnd)
        if (offset > 0) output.skip(stream, offset)
      }
      this.tails[stream] = { fd, offset }
    }
  }

  /** Read what was written since the last call into `output`; trims a file past the cap. True when anything was read. */
  poll (output: OutputBuffer): boolean {
    let any = false
    for (const stream of STREAMS) {
      const tail = this.tails[stream]
      if (tail === undefined) continue
      try {
        if (this.read(stream, tail, output)) any = true
      } catch (err: unknown) {
        this.log.warn('reading %s: %s', this.paths[stream], errorMessage(err))
      }
    }
    return any
  }

  /** Stop reading (the process exited); the next open() continues where this one stopped. */
  close (): void {
    for (const stream of STREAMS) {
      const tail = this.tails[stream]
      if (tail === undefined) continue
      this.offsets[stream] = tail.offset
      try { closeSync(tail.fd) } catch {}
      this.tails[stream] = undefined
    }
  }

  /** Delete files nothing was written to (a silent process leaves none behind); call after close(). */
  removeEmpty (): void {
    for (const stream of STREAMS) {
      if (this.offsets[stream] > 0 || this.truncated) continue
      try {
        const fd = openSync(this.paths[stream], fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW)
        let size: number
        try { size = fstatSync(fd).size } finally { closeSync(fd) }
        if (size === 0) unlinkSync(this.paths[stream])
      } catch (err: unknown) {
        if (errnoCode(err) !== 'ENOENT') this.log.warn('log file %s: %s', this.paths[stream], errorMessage(err))
      }
    }
  }

  /** Delete the files (the record is forgotten). */
  remove (): void {
    this.close()
    for (const stream of STREAMS) {
      for (const path of [this.paths[stream], `${this.paths[stream]}.1`]) {
        try {
          unlinkSync(path)
        } catch (err: unknown) {
          if (errnoCode(err) !== 'ENOENT') this.log.warn('removing %s: %s', path, errorMessage(err))
        }
      }
    }
  }

  private read (stream: StreamName, tail: Tail, output: OutputBuffer): boolean {
    const size = fstatSync(tail.fd).size
    // trimmed by someone else (or a truncating writer): start over at the new beginning
    if (size < tail.offset) tail.offset = 0
    const pending = size - tail.offset
    if (pending <= 0) return false
    const ringCap = output.rings[stream].capacity
    if (pending > ringCap) {
      // more than the ring holds arrived at once (a flood): keep only the newest ringCap bytes
      output.skip(stream, pending - ringCap)
      tail.offset = size - ringCap
    }
    const buf = Buffer.allocUnsafe(Math.min(TAIL_READ_BYTES, size - tail.offset))
    while (tail.offset < size) {
      const n = readSync(tail.fd, buf, 0, Math.min(buf.length, size - tail.offset), tail.offset)
      if (n === 0) break
      output.write(stream, buf.subarray(0, n))
      tail.offset += n
    }
    if (size > this.cap) this.trim(stream, tail, output)
    return true
  }

  /**
   * copytruncate: keep the newest `cap` bytes in `<file>.1`, then empty the file; the writer's
   * O_APPEND writes land at the new end. Whatever arrives between the last read and the truncate
   * (microseconds) is read first, so only output written in that same instant can be lost.
   */
  private trim (stream: StreamName, tail: Tail, output: OutputBuffer): void {
    const path = this.paths[stream]
    const size = fstatSync(tail.fd).size
    try {
      // the newest cap bytes (the whole file when a node kept up; its tail after a flood or a
      // long time without a node), through a temporary file so `.1` is always whole
      const seg = openSync(`${path}.1.tmp`, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW, 0o600)
      try {
        const buf = Buffer.allocUnsafe(TAIL_READ_BYTES)
        for (let at = Math.max(0, size - this.cap); at < size;) {
          const n = readSync(tail.fd, buf, 0, Math.min(buf.length, size - at), at)
          if (n === 0) break
          writeSync(seg, buf, 0, n)
          at += n
        }
      } finally {
        closeSync(seg)
      }
      renameSync(`${path}.1.tmp`, `${path}.1`)
      // what came in during the copy is read before it is cut: all of it at a normal rate, only
      // its newest ring-full after a flood (the rest is counted as dropped), so the read between
      // the last fstat and the truncate stays short while the writer keeps adding more
      const late = fstatSync(tail.fd).size
      const keep = Math.min(late - tail.offset, output.rings[stream].capacity)
      if (late - tail.offset > keep) output.skip(stream, late - tail.offset - keep)
      if (keep > 0) {
        const buf = Buffer.allocUnsafe(keep)
        const n = readSync(tail.fd, buf, 0, keep, late - keep)
        output.write(stream, buf.subarray(0, n))
      }
      ftruncateSync(tail.fd, 0)
      tail.offset = 0
      this.truncated = true
    } catch (err: unknown) {
      this.log.warn('trimming %s: %s', path, errorMessage(err))
    }
  }
}
