/**
 * The trust file (`trust.json` in the home, mode 0600): which role each peer holds on
 * this node, the admins a join token named, the grants this node's invites still
 * offer, and the grants this node still has to claim from its inviter.
 *
 * Roles are levels: none < read < control < exec. A peer with exec can run any
 * command the start policy allows, so it could signal any process anyway: exec
 * includes control, control includes read. `none` takes even read away, and its
 * connections are refused (a block, for a member whose key cannot be taken back).
 * Peers without an entry hold read when they hold the mesh key.
 *
 * Changes take effect without a restart: every check first compares the file's
 * inode, size and mtime with what was loaded (one stat, microseconds) and reloads
 * when any differs, so an edit by hand or by `procmesh trust` while the node runs
 * decides the very next request.
 */
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs'
import { errorMessage, errnoCode } from '../../protocols/errors.js'
import { MAX_ADDR_BYTES, MAX_NAME_BYTES } from '../../protocols/limits.js'
import { CLAIM_SECRET_PATTERN, MAX_TOKEN_ADDRS, PEER_ID_PATTERN } from '../../protocols/token.js'
import {
  expectArray, expectInt, expectOneOf, expectRecord, expectString, optional
} from '../../protocols/validate.js'
import { ROLES, TRUST_ROLES, type Role, type TrustRole } from '../../protocols/wire.js'
import type { Logger } from '../logger.js'

export { TRUST_ROLES, type TrustRole }

/** A trust file is a few KiB; the cap keeps a hostile or broken file from eating memory. */
export const MAX_TRUST_FILE_BYTES = 1024 * 1024
/** Peers with an entry: far more than any LAN mesh, bounded so a loop of adds cannot grow it forever. */
export const MAX_TRUST_ENTRIES = 4096
/** Outstanding invites with a grant: an operator hands out a few at a time. */
export const MAX_PENDING_INVITES = 64
/** Grants this node still has to claim (one per join). */
export const MAX_PENDING_CLAIMS = 16

const LEVEL: Record<TrustRole, number> = { none: 0, read: 1, control: 2, exec: 3 }

export function roleCovers (granted: TrustRole, needed: Role): boolean {
  return LEVEL[granted] >= LEVEL[needed]
}

/** The higher of two roles (a granted role stays a granted role: `none` only comes in as `none`). */
export function higherRole<A extends TrustRole, B extends TrustRole> (a: A, b: B): A | B {
  return LEVEL[a] >= LEVEL[b] ? a : b
}

export type TrustSource = 'trust' | 'join' | 'invite'

export interface TrustEntry {
  role: TrustRole
  /** display name when added (the mesh view's name wins when the peer is online) */
  name?: string
  /** how the entry came to be: `procmesh trust`, a join token's admin, or a claimed invite */
  source: TrustSource
  addedAt: number
  /** join admins: the inviter's addresses, dialled at start */
  addrs?: string[]
}

/** A grant offered by an invite of this node; the token holds the secret, we keep its hash. */
export interface PendingInvite {
  id: string
  secretHash: string
  role: Role
  createdAt: number
  expiresAt: number
}

/** A grant this node's inviter offered it, to claim when connected to the inviter. */
export interface PendingClaim {
  admin: string
  secret: string
  role: Role
  expiresAt: number
}

export interface TrustFile {
  version: 1
  peers: Record<string, TrustEntry>
  invites: PendingInvite[]
  claims: PendingClaim[]
}

export class TrustFileError extends Error {
  override name = 'TrustFileError'
}

export function emptyTrustFile (): TrustFile {
  return { version: 1, peers: {}, invites: [], claims: [] }
}

/** Parse and validate the trust file; errors name the field. */
export function parseTrustFile (text: string): TrustFile {
  let raw: unknown
  try { raw = JSON.parse(text) } catch { throw new TrustFileError('not valid JSON') }
  const r = expectRecord(raw, 'trust')
  if (r.version !== 1) throw new TrustFileError(`trust.version: expected 1, got ${JSON.stringify(r.version)}`)
  const peersRaw = expectRecord(r.peers ?? {}, 'trust.peers')
  const ids = Object.keys(peersRaw)
  if (ids.length > MAX_TRUST_ENTRIES) throw new TrustFileError(`trust.peers: more than ${MAX_TRUST_ENTRIES} entries`)
  const peers: Record<string, TrustEntry> = {}
  for (const id of ids) {
    const path = `trust.peers.${id.slice(0, 60)}`
    if (!PEER_ID_PATTERN.test(id)) throw new TrustFileError(`${path}: not a peer id`)
    const e = expectRecord(peersRaw[id], path)
    const entry: TrustEntry = {
      role: expectOneOf(e.role, `${path}.role`, TRUST_ROLES),
      source: expectOneOf(e.source ?? 'trust', `${path}.source`, ['trust', 'join', 'invite'] as const),
      addedAt: expectInt(e.addedAt ?? 0, `${path}.addedAt`, { min: 0 })
    }
    const name = optional(e.name, v => expectString(v, `${path}.name`, { maxBytes: MAX_NAME_BYTES, noNul: true }))
    if (name !== undefined) entry.name = name
    const addrs = optional(e.addrs, v => expectArray(v, `${path}.addrs`, MAX_TOKEN_ADDRS).map((a, i) => expectString(a, `${path}.addrs[${i}]`, { maxBytes: MAX_ADDR_BYTES, minLength: 1 })))
    if (addrs !== undefined) entry.addrs = addrs
    peers[id] = entry
  }
  const invites = expectArray(r.invites ?? [], 'trust.invites', MAX_PENDING_INVITES).map((v, i): PendingInvite => {
    const e = expectRecord(v, `trust.invites[${i}]`)
    return {
      id: expectString(e.id, `trust.invites[${i}].id`, { pattern: /^[0-9a-f]{1,32}$/ }),
      secretHash: expectString(e.secretHash, `trust.invites[${i}].secretHash`, { pattern: /^[0-9a-f]{64}$/ }),
      role: expectOneOf(e.role, `trust.invites[${i}].role`, ROLES),
      createdAt: expectInt(e.createdAt, `trust.invites[${i}].createdAt`, { min: 0 }),
      expiresAt: expectInt(e.expiresAt, `trust.invites[${i}].expiresAt`, { min: 0 })
    }
  })
  const claims = expectArray(r.claims ?? [], 'trust.claims', MAX_PENDING_CLAIMS).map((v, i): PendingClaim => {
    const e = expectRecord(v, `trust.claims[${i}]`)
    return {
      admin: expectString(e.admin, `trust.claims[${i}].admin`, { pattern: PEER_ID_PATTERN }),
      secret: expectString(e.secret, `trust.claims[${i}].secret`, { pattern: CLAIM_SECRET_PATTERN }),
      role: expectOneOf(e.role, `trust.claims[${i}].role`, ROLES),
      expiresAt: expectInt(e.expiresAt, `trust.claims[${i}].expiresAt`, { min: 0 })
    }
  })
  return { version: 1, peers, invites, claims }
}

export function serializeTrustFile (tf: TrustFile): string {
  return JSON.stringify(tf, null, 2) + '\n'
}

function signature (st: Stats | undefined): string {
  return st === undefined ? 'missing' : `${st.ino}:${st.size}:${st.mtimeMs}`
}

function statOrUndefined (file: string): Stats | undefined {
  try {
    return statSync(file)
  } catch (err: unknown) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw err
  }
}

/** Read the trust file from disk (missing = empty). */
export function readTrustFile (file: string): TrustFile {
  const st = statOrUndefined(file)
  if (st === undefined) return emptyTrustFile()
  if (st.size > MAX_TRUST_FILE_BYTES) throw new TrustFileError(`larger than ${MAX_TRUST_FILE_BYTES} bytes`)
  return parseTrustFile(readFileSync(file, 'utf8'))
}

/** Write atomically with mode 0600. */
export function writeTrustFile (file: string, tf: TrustFile): void {
  const tmp = `${file}.${process.pid}.tmp`
  // created exclusively: never through a link or file someone placed there; a stale one of ours is removed first
  try { unlinkSync(tmp) } catch { /* none */ }
  try {
    writeFileSync(tmp, serializeTrustFile(tf), { mode: 0o600, flag: 'wx' })
    renameSync(tmp, file)
  } catch (err: unknown) {
    // a full disk: no half-written temp file stays behind in the home
    try { unlinkSync(tmp) } catch { /* never created */ }
    throw err
  }
}

export class TrustStore {
  readonly file: string
  private readonly log?: Logger
  private state: TrustFile = emptyTrustFile()
  private sig = ''
  /** set while the file on disk is broken: grants are gone (fail closed), blocks stay */
  private brokenReason?: string
  private readonly listeners: Array<(tf: TrustFile) => void> = []

  constructor (file: string, log?: Logger) {
    this.file = file
    this.log = log
  }

  /** Load at start: a broken file is an error naming it (silently trusting nobody would surprise). */
  load (): void {
    const st = statOrUndefined(this.file)
    try {
      this.state = readTrustFile(this.file)
    } catch (err: unknown) {
      throw new TrustFileError(`trust file ${this.file}: ${errorMessage(err)}; fix it or move it away`)
    }
    this.sig = signature(st)
    this.brokenReason = undefined
  }

  /** Reload when the file changed since it was read; returns true when it did. */
  refresh (): boolean {
    let st: Stats | undefined
    try {
      st = statOrUndefined(this.file)
    } catch (err: unknown) {
      this.fail(`cannot stat: ${errorMessage(err)}`, 'stat-error')
      return true
    }
    const sig = signature(st)
    if (sig === this.sig) return false
    this.sig = sig
    try {
      this.state = readTrustFile(this.file)
      if (this.brokenReason !== undefined) this.log?.info('trust file %s is valid again', this.file)
      this.brokenReason = undefined
    } catch (err: unknown) {
      this.fail(errorMessage(err), sig)
    }
    this.emit()
    return true
  }

  private fail (reason: string, sig: string): void {
    this.sig = sig
    // fail closed: no grants and no invites until the file is fixed; blocks stay in force
    const blocked = Object.entries(this.state.peers).filter(([, e]) => e.role === 'none')
    this.state = { ...emptyTrustFile(), peers: Object.fromEntries(blocked) }
    this.brokenReason = reason
    this.log?.error('trust file %s is broken (%s): only mesh membership (read) counts until it is fixed', this.file, reason)
  }

  get broken (): string | undefined {
    this.refresh()
    return this.brokenReason
  }

  /** The current content (reloaded first when the file changed). */
  get data (): Readonly<TrustFile> {
    this.refresh()
    return this.state
  }

  entry (peerId: string): TrustEntry | undefined {
    return this.data.peers[peerId]
  }

  onChange (listener: (tf: TrustFile) => void): void {
    this.listeners.push(listener)
  }

  private emit (): void {
    for (const l of this.listeners) {
      try { l(this.state) } catch (err: unknown) { this.log?.error('trust change listener failed: %s', errorMessage(err)) }
    }
  }

  /**
   * Change the file: reload, apply `fn` to a copy, write it atomically. Refused while
   * the file on disk is broken, so a fix in progress is never overwritten.
   */
  update<T> (fn: (tf: TrustFile) => T): T {
    this.refresh()
    if (this.brokenReason !== undefined) throw new TrustFileError(`trust file ${this.file} is broken (${this.brokenReason}); fix it or move it away first`)
    const copy: TrustFile = structuredClone(this.state)
    const result = fn(copy)
    if (Object.keys(copy.peers).length > MAX_TRUST_ENTRIES) throw new TrustFileError(`the trust file holds at most ${MAX_TRUST_ENTRIES} peers`)
    // written only on change: a flood of failed claims must not rewrite the file each time (issue 17 finding 14)
    if (serializeTrustFile(copy) === serializeTrustFile(this.state)) return result
    writeTrustFile(this.file, copy)
    this.state = copy
    this.sig = signature(statOrUndefined(this.file))
    this.emit()
    return result
  }
}
