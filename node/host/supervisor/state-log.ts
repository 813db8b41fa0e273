/** The state file: start request ids and their outcomes, so a retried start never runs twice (THREATS.md invariant 4). */
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { errnoCode, errorMessage } from '../../../protocols/errors.js'
import type { StartResult } from '../../../protocols/messages.js'
import type { Logger } from '../../logger.js'
import { MAX_REMEMBERED_STARTS, MAX_STATE_FILE_BYTES } from './limits.js'

/** One line of the state file. `by` + `id` name a start request (ids are per requester). */
export type StateEntry =
  | { t: 'pending', by: string, id: string, fp: string, managedId: string, at: number }
  | { t: 'started', by: string, id: string, fp: string, managedId: string, pid: number, startTime: number, at: number }
  | { t: 'failed', by: string, id: string, at: number }

/**
 * What the supervisor remembers about a request id: in flight in this life (`pending`), done
 * (`started`), or recorded as pending by an earlier life that died before recording the outcome
 * (`unknown`: the process may or may not be running, so a retry must not start another).
 */
export type Remembered =
  | { state: 'pending', fp: string, managedId: string, at: number }
  | { state: 'started', fp: string, result: StartResult, at: number }
  | { state: 'unknown', fp: string, managedId: string, at: number }

export function parseStateLine (line: string): StateEntry | undefined {
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
export class StateLog {
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
    await replaceDurably(this.path, entries.map(e => `${JSON.stringify(e)}\n`).join(''))
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

/**
 * Replace `path` with `text` (mode 0600) so that a crash leaves the old file or the new one,
 * never half of either: a temporary file, fsync, rename, fsync of the directory. On a full disk
 * the old file stays whole and no half-written temporary file stays beside it.
 */
export async function replaceDurably (path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`
  try {
    const handle = await open(tmp, 'w', 0o600)
    try {
      await handle.writeFile(text)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, path)
  } catch (err: unknown) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  await syncDir(dirname(path))
}

export async function syncDir (dir: string): Promise<void> {
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

