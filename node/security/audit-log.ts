/**
 * The audit log: append-only JSON lines in `audit.log` in the home (mode 0600).
 * When the file would pass AUDIT_MAX_BYTES it is renamed to `audit.log.1` (replacing
 * the previous one) and a new file starts, so the log holds between one and two
 * files' worth of the newest decisions and never fills the disk.
 *
 * Writes are synchronous: a decision is on disk (in the page cache) before the node
 * acts on it, lines never interleave, and a write that fails (disk full) throws, so
 * the caller can refuse the action instead of acting unrecorded.
 */
import { appendFileSync, chmodSync, closeSync, openSync, readSync, renameSync, statSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { mergeAuditLines, validateAuditEntry, type AuditEntry } from '../../protocols/audit.js'
import { errorMessage } from '../../protocols/errors.js'
import type { Logger } from '../logger.js'

/** One file of the log: ~20,000 decisions; with the rotated one at most twice this on disk. */
export const AUDIT_MAX_BYTES = 8 * 1024 * 1024

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

/** Parse JSON lines, skipping lines that are not valid entries (a torn last line after a crash). */
export function parseAuditLines (text: string): AuditEntry[] {
  const out: AuditEntry[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    try {
      out.push(validateAuditEntry(JSON.parse(line), 'entry'))
    } catch {
      // a torn or foreign line: skip it, keep the rest readable
    }
  }
  return out
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
export function readAuditLog (file: string, limit: number): AuditEntry[] {
  let entries = mergeAuditLines(parseAuditLines(readTail(file, AUDIT_MAX_BYTES)))
  if (entries.length < limit) {
    const older = parseAuditLines(readTail(`${file}.1`, AUDIT_MAX_BYTES))
    entries = mergeAuditLines([...older, ...parseAuditLines(readTail(file, AUDIT_MAX_BYTES))])
  }
  return entries.slice(-limit)
}

export class AuditLog {
  readonly file: string
  private readonly maxBytes: number
  private readonly log?: Logger
  private size: number

  constructor (file: string, opts: { maxBytes?: number, log?: Logger } = {}) {
    this.file = file
    this.maxBytes = opts.maxBytes ?? AUDIT_MAX_BYTES
    this.log = opts.log
    this.size = sizeOf(file)
  }

  /** Append one entry; throws AuditWriteError when it cannot be recorded. */
  append (entry: AuditEntry): void {
    const line = JSON.stringify(entry) + '\n'
    const bytes = Buffer.byteLength(line)
    try {
      if (this.size > 0 && this.size + bytes > this.maxBytes) {
        renameSync(this.file, `${this.file}.1`)
        this.size = 0
      }
      appendFileSync(this.file, line, { mode: 0o600 })
      if (this.size === 0) chmodSync(this.file, 0o600)
      this.size += bytes
    } catch (err: unknown) {
      this.size = sizeOf(this.file)
      throw new AuditWriteError(`cannot write the audit log ${this.file}: ${errorMessage(err)}`)
    }
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
    return readAuditLog(this.file, limit)
  }
}
