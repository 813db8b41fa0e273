/**
 * The supervisor's records in the home (`managed.json`, 0600): what a starting node needs to
 * re-adopt live processes (pid + start time), report exits that happened while it was down, and
 * bring back records with a restart policy. Rewritten whole (temporary file, fsync, rename) on
 * every change: at most MAX_KEPT records of a few KiB, and changes are starts, exits and restarts.
 *
 * The file holds each record's request env (values too: the process needs them again after a
 * reboot); it is as private as the identity key next to it.
 */
import { mkdir, open, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { errnoCode, errorMessage } from '../../../protocols/errors.js'
import {
  MANAGED_STATES, validateLastExit, validateManagedName, validateRestartPolicy, type ManagedState, type RestartPolicy
} from '../../../protocols/managed.js'
import { MANAGED_ID_PATTERN, validateArgv, validateEnv } from '../../../protocols/messages.js'
import { expectBoolean, expectInt, expectNumber, expectOneOf, expectRecord, expectString } from '../../../protocols/validate.js'
import type { Logger } from '../../logger.js'
import { MAX_STATE_FILE_BYTES } from './limits.js'
import { replaceDurably } from './state-log.js'

export interface LastExit { code: number | null, signal: string | null, at: number, whileDown: boolean }

/** One record as stored. */
export interface StoredRecord {
  managedId: string
  name: string | null
  argv: string[]
  cwd: string
  /** the request's env (the node's base env is added at each spawn) */
  env: Record<string, string>
  requestedBy: string
  policy: RestartPolicy
  createdAt: number
  pid: number
  startTime: number
  state: ManagedState
  restarts: number
  /** unstable runs in a row (see STABLE_UPTIME_MS) */
  streak: number
  lastExit: LastExit | null
  /** a stop through procmesh was asked: the coming exit is not restarted */
  stopRequested: boolean
}

const FILE_VERSION = 1

export function parseStoredRecord (value: unknown, path: string): StoredRecord {
  const r = expectRecord(value, path)
  const lastExit: LastExit | null = validateLastExit(r.lastExit, `${path}.lastExit`)
  return {
    managedId: expectString(r.managedId, `${path}.managedId`, { pattern: MANAGED_ID_PATTERN }),
    name: r.name === null ? null : validateManagedName(r.name, `${path}.name`),
    argv: validateArgv(r.argv),
    cwd: expectString(r.cwd, `${path}.cwd`, { maxBytes: 4096, minLength: 1 }),
    env: validateEnv(r.env),
    requestedBy: expectString(r.requestedBy, `${path}.requestedBy`, { maxBytes: 256 }),
    policy: validateRestartPolicy(r.policy, `${path}.policy`),
    createdAt: expectNumber(r.createdAt, `${path}.createdAt`, { min: 0 }),
    pid: expectInt(r.pid, `${path}.pid`, { min: 0 }),
    startTime: expectNumber(r.startTime, `${path}.startTime`, { min: 0 }),
    state: expectOneOf(r.state, `${path}.state`, MANAGED_STATES),
    restarts: expectInt(r.restarts, `${path}.restarts`, { min: 0 }),
    streak: expectInt(r.streak, `${path}.streak`, { min: 0 }),
    lastExit,
    stopRequested: expectBoolean(r.stopRequested, `${path}.stopRequested`)
  }
}

/** Reads and rewrites managed.json; writes are serialised, and each save covers every change before it. */
export class RecordsFile {
  private readonly path: string
  private readonly log: Logger
  private readonly snapshot: () => StoredRecord[]
  private writing: Promise<void> = Promise.resolve()
  private queued?: Promise<void>

  constructor (path: string, log: Logger, snapshot: () => StoredRecord[]) {
    this.path = path
    this.log = log
    this.snapshot = snapshot
  }

  /** The records an earlier life left (unreadable ones are skipped with a warning). */
  async load (): Promise<StoredRecord[]> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
    let text: string
    try {
      const handle = await open(this.path, 'r')
      try {
        const info = await handle.stat()
        if (!info.isFile()) throw new Error(`${this.path} is not a regular file`)
        if (info.size > MAX_STATE_FILE_BYTES) throw new Error(`${this.path} is larger than ${MAX_STATE_FILE_BYTES} bytes: not a procmesh records file?`)
        text = await readFile(handle, 'utf8')
      } finally {
        await handle.close()
      }
    } catch (err: unknown) {
      if (errnoCode(err) === 'ENOENT') return []
      throw err
    }
    let doc: Record<string, unknown>
    try {
      doc = expectRecord(JSON.parse(text), 'records file')
    } catch (err: unknown) {
      this.log.error('records file %s is unreadable (%s): managed processes of an earlier life are not re-adopted', this.path, errorMessage(err))
      return []
    }
    if (doc.v !== FILE_VERSION || !Array.isArray(doc.records)) {
      this.log.error('records file %s: unknown version %s', this.path, JSON.stringify(doc.v))
      return []
    }
    const out: StoredRecord[] = []
    doc.records.forEach((r: unknown, i: number) => {
      try {
        out.push(parseStoredRecord(r, `records[${i}]`))
      } catch (err: unknown) {
        this.log.warn('records file %s: skipping record %d: %s', this.path, i, errorMessage(err))
      }
    })
    return out
  }

  /** Resolves once a file holding every change made before the call is on disk. */
  async save (): Promise<void> {
    // one write in progress, at most one queued behind it (which takes the snapshot when it runs)
    if (this.queued !== undefined) return await this.queued
    const next = this.writing.catch(() => {}).then(async () => {
      this.queued = undefined
      await this.write(this.snapshot())
    })
    this.queued = next
    this.writing = next
    return await next
  }

  private async write (records: StoredRecord[]): Promise<void> {
    await replaceDurably(this.path, JSON.stringify({ v: FILE_VERSION, records }))
  }

}
