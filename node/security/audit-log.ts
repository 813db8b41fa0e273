/**
 * The audit log: append-only JSON lines in `audit.log` in the home (mode 0600).
 * When the file would pass AUDIT_MAX_BYTES it is renamed to `audit.log.1` (replacing
 * the previous one) and a new file starts, so the log holds between one and two
 * files' worth of the newest decisions and never fills the disk.
 *
 * Writes are synchronous: a decision is on disk (in the page cache) before the node
 * acts on it, lines never interleave, and a write that fails (disk full) throws, so
 * the caller can refuse the action instead of acting unrecorded.
 *
 * Denials cost the requester nothing, so they are kept apart (issue 17 finding 2: 600
 * denied starts with 64 KiB argv from a fresh read-only identity rotated every allowed
 * decision away in 1.3 s): they go to `audit-denied.log` (and its `.1`) with their own
 * size budget, so no number of them can rotate an allowed decision out of `audit.log`;
 * a denied start keeps only the head of its argv; and each peer (or remote host, for
 * connections of unknown peers) gets AUDIT_DENIALS_PER_WINDOW denial lines per
 * AUDIT_DENIAL_WINDOW_MS, after which one "N more ... suppressed" line says what was
 * left out. Readers merge both logs in time order.
 */
import { chmodSync, closeSync, constants as fsConstants, fstatSync, ftruncateSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import {
  AUDIT_DENIED_MAX_ARG_BYTES, AUDIT_DENIED_MAX_ARGS, clipArgv, clipAuditEntry, mergeAuditLines, validateAuditEntry, type AuditEntry
} from '../../protocols/audit.js'
import { errorMessage } from '../../protocols/errors.js'
import type { Logger } from '../logger.js'
import { isRecord } from '../../protocols/validate.js'

/** One file of the log: ~20,000 decisions; with the rotated one at most twice this on disk. */
export const AUDIT_MAX_BYTES = 8 * 1024 * 1024
/** Denial lines one peer (or remote host) gets per window; the rest are counted. */
export const AUDIT_DENIALS_PER_WINDOW = 20
export const AUDIT_DENIAL_WINDOW_MS = 60_000
/** Requesters whose denials are being counted; past it the oldest window is flushed. */
export const AUDIT_MAX_DENIAL_SOURCES = 1024

/** The denial log next to an audit log: audit.log -> audit-denied.log. */
export function deniedLogOf (file: string): string {
  const name = basename(file)
  return join(dirname(file), name.endsWith('.log') ? `${name.slice(0, -4)}-denied.log` : `${name}-denied`)
}

export class AuditWriteError extends Error {
  override name = 'AuditWriteError'
}

/** A short unique id for a decision (time-ordered prefix, random suffix). */
export function auditId (now = Date.now()): string {
  return `${now.toString(36)}-${randomBytes(5).toString('hex')}`
}

function sizeOf (file: string): number {
  try { return statSync(file).size } catch { return 0 }
}

/**
 * Parse JSON lines, skipping lines that are not entries at all (a torn last line after
 * a crash, foreign text). Over-long fields are clipped, never a reason to drop a line.
 */
export function parseAuditLines (text: string): AuditEntry[] {
  const out: AuditEntry[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const entry = parseAuditLine(line) ?? gluedTail(line)
    if (entry !== undefined) out.push(entry)
  }
  return out
}

function parseAuditLine (line: string): AuditEntry | undefined {
  try {
    const raw: unknown = JSON.parse(line)
    if (!isRecord(raw)) return undefined
    return validateAuditEntry(clipAuditEntry(raw), 'entry')
  } catch {
    return undefined
  }
}

/**
 * A torn line with a whole one glued to it (written by a version that left half lines behind
 * on a full disk): the whole one is the entry that starts at the last `{"` it parses from.
 * Skipping both would show an acknowledged start as pending.
 */
function gluedTail (line: string): AuditEntry | undefined {
  for (let i = line.indexOf('{"', 1); i > 0; i = line.indexOf('{"', i + 1)) {
    const entry = parseAuditLine(line.slice(i))
    if (entry !== undefined) return entry
  }
  return undefined
}

/** The last `maxBytes` of a file (from the first whole line), or '' when missing. */
function readTail (file: string, maxBytes: number): string {
  let fd: number
  try { fd = openSync(file, 'r') } catch { return '' }
  try {
    const size = statSync(file).size
    const start = Math.max(0, size - maxBytes)
    const buf = Buffer.alloc(size - start)
    let off = 0
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, start + off)
      if (n === 0) break
      off += n
    }
    let text = buf.subarray(0, off).toString('utf8')
    if (start > 0) text = text.slice(text.indexOf('\n') + 1)
    return text
  } finally {
    closeSync(fd)
  }
}

/**
 * The newest `limit` decisions of the log at `file` (and its rotated predecessor when
 * the current file has fewer), result lines merged into their decisions.
 */
function readOne (file: string, limit: number): AuditEntry[] {
  let entries = mergeAuditLines(parseAuditLines(readTail(file, AUDIT_MAX_BYTES)))
  if (entries.length < limit) {
    const older = parseAuditLines(readTail(`${file}.1`, AUDIT_MAX_BYTES))
    entries = mergeAuditLines([...older, ...parseAuditLines(readTail(file, AUDIT_MAX_BYTES))])
  }
  return entries.slice(-limit)
}

/** When a decision was taken: the time its id encodes (its result line keeps the id), else its time. */
function decidedAt (e: AuditEntry): number {
  const t = parseInt(e.id.split('-')[0], 36)
  return e.id.includes('-') && Number.isFinite(t) ? t : e.time
}

/** Merge two time-ordered lists (stable: ties keep `a` first). */
function mergeByTime (a: AuditEntry[], b: AuditEntry[]): AuditEntry[] {
  const out: AuditEntry[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && decidedAt(a[i]) <= decidedAt(b[j]))) out.push(a[i++])
    else out.push(b[j++])
  }
  return out
}

/** The newest `limit` decisions of the log at `file` and its denial log, in time order. */
export function readAuditLog (file: string, limit: number): AuditEntry[] {
  return mergeByTime(readOne(file, limit), readOne(deniedLogOf(file), limit)).slice(-limit)
}

/** One file of the log with its rotation. */
class RotatingFile {
  readonly file: string
  private readonly maxBytes: number
  private size: number

  constructor (file: string, maxBytes: number) {
    this.file = file
    this.maxBytes = maxBytes
    this.size = sizeOf(file)
  }

  write (line: string): void {
    const bytes = Buffer.byteLength(line)
    try {
      if (this.size > 0 && this.size + bytes > this.maxBytes) {
        renameSync(this.file, `${this.file}.1`)
        this.size = 0
      }
      appendWholeLine(this.file, line)
      if (this.size === 0) chmodSync(this.file, 0o600)
      this.size += bytes
    } catch (err: unknown) {
      this.size = sizeOf(this.file)
      throw new AuditWriteError(`cannot write the audit log ${this.file}: ${errorMessage(err)}`)
    }
  }
}

interface DenialWindow { start: number, written: number, suppressed: number, sample: AuditEntry }

export class AuditLog {
  readonly file: string
  readonly deniedFile: string
  private readonly main: RotatingFile
  private readonly denied: RotatingFile
  private readonly log?: Logger
  private readonly now: () => number
  private readonly windows = new Map<string, DenialWindow>()

  constructor (file: string, opts: { maxBytes?: number, log?: Logger, now?: () => number } = {}) {
    this.file = file
    this.deniedFile = deniedLogOf(file)
    this.main = new RotatingFile(file, opts.maxBytes ?? AUDIT_MAX_BYTES)
    this.denied = new RotatingFile(this.deniedFile, opts.maxBytes ?? AUDIT_MAX_BYTES)
    this.log = opts.log
    this.now = opts.now ?? Date.now
  }

  /**
   * Append one entry; throws AuditWriteError when it cannot be recorded. Every field
   * is clipped to what readers accept. Denials go to the denial log, rate-limited per
   * requester (a suppressed one is counted, not written, and does not throw).
   */
  append (entry: AuditEntry): void {
    if (entry.decision !== 'denied') {
      this.main.write(line(entry))
      return
    }
    this.flushExpired()
    const key = entry.peerId ?? hostKey(entry.addr) ?? 'unknown'
    const now = this.now()
    let w = this.windows.get(key)
    if (w === undefined) {
      if (this.windows.size >= AUDIT_MAX_DENIAL_SOURCES) this.flush(this.windows.keys().next().value ?? '')
      w = { start: now, written: 0, suppressed: 0, sample: entry }
      this.windows.set(key, w)
    }
    if (w.written >= AUDIT_DENIALS_PER_WINDOW) {
      w.suppressed++
      w.sample = entry
      return
    }
    w.written++
    const clipped: AuditEntry = entry.argv !== undefined ? { ...entry, argv: clipArgv(entry.argv, AUDIT_DENIED_MAX_ARGS, AUDIT_DENIED_MAX_ARG_BYTES) } : entry
    this.denied.write(line(clipped))
  }

  /** Append, logging instead of throwing: for records of things already refused or done. */
  record (entry: AuditEntry): void {
    try {
      this.append(entry)
    } catch (err: unknown) {
      this.log?.error('%s', errorMessage(err))
    }
  }

  read (limit: number): AuditEntry[] {
    this.flushExpired()
    return readAuditLog(this.file, limit)
  }

  /** Write the "suppressed" lines of windows that are over (called on every denial and read). */
  private flushExpired (): void {
    const now = this.now()
    for (const [key, w] of this.windows) {
      if (now - w.start >= AUDIT_DENIAL_WINDOW_MS) this.flush(key)
    }
  }

  private flush (key: string): void {
    const w = this.windows.get(key)
    this.windows.delete(key)
    if (w === undefined || w.suppressed === 0) return
    const s = w.sample
    const summary: AuditEntry = {
      id: auditId(this.now()),
      time: this.now(),
      event: s.event,
      peerId: s.peerId,
      name: s.name,
      via: s.via,
      ...(s.addr !== undefined ? { addr: s.addr } : {}),
      decision: 'denied',
      reason: `${w.suppressed} more denied ${s.event} decisions for this ${s.peerId !== null ? 'peer' : 'host'} suppressed between ${new Date(w.start).toISOString()} and ${new Date(this.now()).toISOString()} (at most ${AUDIT_DENIALS_PER_WINDOW} are written per ${AUDIT_DENIAL_WINDOW_MS / 1000} s); the last: ${s.reason}`
    }
    try {
      this.denied.write(line(summary))
    } catch (err: unknown) {
      this.log?.error('%s', errorMessage(err))
    }
  }
}

/**
 * Append one whole line or nothing, without following a symbolic link planted at `file`
 * (O_NOFOLLOW: ELOOP instead). A full disk can take part of a line: what was written of it is
 * cut off again, so the next line never glues to a torn one. A torn last line an earlier crash
 * left is closed with a newline first, for the same reason (readers skip it).
 */
export function appendWholeLine (file: string, text: string): void {
  const fd = openSync(file, fsConstants.O_RDWR | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600)
  try {
    const before = fstatSync(fd).size
    let data = Buffer.from(text)
    if (before > 0) {
      const last = Buffer.alloc(1)
      readSync(fd, last, 0, 1, before - 1)
      if (last[0] !== 0x0a) data = Buffer.concat([Buffer.from('\n'), data])
    }
    let off = 0
    try {
      while (off < data.length) off += writeSync(fd, data, off, data.length - off)
    } catch (err: unknown) {
      // no half line may stay (a truncate frees space, so it works on a full disk)
      try { ftruncateSync(fd, before) } catch { /* the next append closes the torn line */ }
      throw err
    }
  } finally {
    closeSync(fd)
  }
}

function line (entry: AuditEntry): string {
  return JSON.stringify(clipAuditEntry({ ...entry })) + '\n'
}

function hostKey (addr: string | undefined): string | undefined {
  if (addr === undefined) return undefined
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+/.exec(addr)
  return m !== null ? m[0] : addr
}
