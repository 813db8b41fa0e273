/** In-memory output of managed processes: a byte ring per stream plus the order the streams wrote in. */
import { MAX_OUTPUT_RUNS, RING_BUFFER_BYTES, STREAMS, type StreamName } from './limits.js'

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

  /**
   * Count n bytes as written without keeping them (output that went past while nobody could
   * read it): everything held is dropped, since it is no longer followed by what comes next.
   */
  skip (n: number): void {
    if (n <= 0) return
    this.written += n
    this.head = 0
    this.size = 0
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

  /** n bytes of the stream that are not kept (see ByteRing.skip); readers past them see `truncated`. */
  skip (stream: StreamName, n: number): void {
    if (n <= 0) return
    const ring = this.rings[stream]
    ring.skip(n)
    this.runs.splice(0, this.runs.length, ...this.runs.filter(r => r.stream !== stream))
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

