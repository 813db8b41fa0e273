/**
 * Sequence numbers of this node's gossip that keep increasing across restarts without trusting
 * the wall clock (issue 19 item 3a). Before, `seq = max(last + 1, now)`: a node whose clock ran
 * an hour ahead, then was corrected and restarted, announced lower numbers than the mesh
 * remembered and stayed rejected (and offline, after its goodbye) for that hour.
 *
 * Now the numbers continue from the last run: the home's `gossip-seq` file holds a mark that
 * no number used so far exceeds. Numbers are handed out below the mark; reaching it writes a new
 * mark SEQ_LEASE further first (temp file, fsync, rename), so a run writes the file once at
 * start and once per SEQ_LEASE messages, and a crash loses at most the unused rest of a lease.
 * A home without the file (a new identity, or a home from a version that used the clock)
 * starts from the clock once, so members that knew the old clock-based numbers accept the
 * new ones; after that the clock plays no part.
 */
import { closeSync, constants as fsConstants, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { SEQ_LEASE } from '../../protocols/limits.js'

export interface SeqSource {
  /** the next number, greater than every one handed out before (by this or an earlier run) */
  next: () => number
}

export class SeqLease implements SeqSource {
  private readonly file?: string
  private last: number
  private mark: number

  /** `file` undefined: in memory only (tests), starting from `start` */
  constructor (file: string | undefined, start: () => number = Date.now) {
    this.file = file
    const saved = file !== undefined ? readMark(file) : undefined
    this.last = saved ?? start()
    this.mark = this.last
  }

  next (): number {
    this.last++
    if (this.last > this.mark) {
      this.mark = this.last + SEQ_LEASE
      if (this.file !== undefined) writeMark(this.file, this.mark)
    }
    return this.last
  }
}

function readMark (file: string): number | undefined {
  let text: string
  try {
    const fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW)
    try { text = readFileSync(fd, 'utf8') } finally { closeSync(fd) }
  } catch (err: unknown) {
    if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT') return undefined
    throw err
  }
  const n = Number(text.trim())
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${file}: not a sequence number (${JSON.stringify(text.slice(0, 40))}); remove it to start from the clock again`)
  return n
}

function writeMark (file: string, mark: number): void {
  const tmp = `${file}.${process.pid}.tmp`
  const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600)
  try {
    writeSync(fd, `${mark}\n`)
    fsyncSync(fd)
  } catch (err: unknown) {
    closeSync(fd)
    try { unlinkSync(tmp) } catch { /* already gone */ }
    throw err
  }
  closeSync(fd)
  renameSync(tmp, file)
}
