/**
 * Deployments (pure): a signed, versioned spec of "keep N copies of this command running on the
 * hosts a selector names", the rule that picks one spec when several exist, the placement every
 * node computes alike, the digest each node gossips, and the sync protocol that carries specs.
 *
 * Conflict rule: of two specs of one name, the higher `version` wins; of two with the same
 * version (two members deployed at once), the one whose canonical encoding has the greater
 * SHA-256 (compared as hex text) wins. Every node applies it to the same specs and gets the same
 * winner, with no clock and no leader. An undeploy is a spec like any other (`deleted: true`)
 * one version up, so it beats the spec it removes and loses to a later deploy.
 *
 * Trust: a host only counts specs whose author holds `exec` in its own trust file (the author is
 * the peer whose key signed the spec). So a member without exec cannot replace a deployment on
 * hosts that do not trust it: they keep running the newest spec they do trust.
 *
 * Placement: rendezvous (highest random weight) hashing. Each candidate host offers `spread`
 * slots; slot (host, s) scores SHA-256(name, host peer id, s); the `replicas` best slots win
 * (`every`: slot 1 of every candidate). The score ignores the version, so an update lands on
 * the same hosts, and a host that leaves moves only its own copies (a joining host takes only
 * the slots it outscores).
 */
import { createHash } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidFieldError, ProcmeshError, errorMessage } from './errors.js'
import { DEPLOY_SYNC_PROTOCOL } from './ids.js'
import {
  MAX_DEPLOYMENTS, MAX_DEPLOY_NAME_BYTES, MAX_REPLICAS, MAX_SELECTOR_NAMES, MAX_SPEC_BYTES, MAX_SPEC_CLOCK_SKEW_MS,
  MAX_DIGEST_WITH_SPEC_BYTES, MAX_SPREAD, MAX_STORED_SPECS, MAX_SUMMARY_BYTES, MAX_NAME_BYTES, MAX_TAG_BYTES, SPECS_KEPT_PER_NAME
} from './limits.js'
import { RESTART_POLICIES, type RestartPolicyName } from './managed.js'
import { MAX_PATH_BYTES, validateArgv, validateEnv } from './messages.js'
import { expectArray, expectBoolean, expectInt, expectOneOf, expectRecord, expectString, isOneOf } from './validate.js'
import { expectType, type ProtocolDescriptor } from './wire.js'

// ---- names and selectors ----
/** A deployment name: the managed-name alphabet, short enough to name its copies. */
export const DEPLOY_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/

export function validateDeployName (value: unknown, path = 'name'): string {
  const name = expectString(value, path, { maxBytes: MAX_DEPLOY_NAME_BYTES, minLength: 1 })
  if (!DEPLOY_NAME_PATTERN.test(name)) throw new InvalidFieldError(path, `${JSON.stringify(name)}: a deployment name starts with a letter and holds letters, digits, _ and - (at most ${MAX_DEPLOY_NAME_BYTES})`)
  return name
}

/** `all`, `tag:KEY=VALUE`, or host names / peer ids separated by commas. */
export type Selector =
  | { kind: 'all' }
  | { kind: 'tag', key: string, value: string }
  | { kind: 'names', names: string[] }

export function parseSelector (text: unknown, path = 'selector'): Selector {
  const s = expectString(text, path, { minLength: 1, maxBytes: MAX_SELECTOR_NAMES * (MAX_NAME_BYTES + 1), noNul: true })
  if (s === 'all') return { kind: 'all' }
  if (s.startsWith('tag:')) {
    const body = s.slice(4)
    const eq = body.indexOf('=')
    if (eq <= 0) throw new InvalidFieldError(path, `${JSON.stringify(s)}: expected tag:KEY=VALUE`)
    const key = body.slice(0, eq)
    const value = body.slice(eq + 1)
    if (Buffer.byteLength(key) > MAX_TAG_BYTES || Buffer.byteLength(value) > MAX_TAG_BYTES) throw new InvalidFieldError(path, `tag key and value are at most ${MAX_TAG_BYTES} bytes each`)
    return { kind: 'tag', key, value }
  }
  const names = s.split(',').map(n => n.trim())
  if (names.length > MAX_SELECTOR_NAMES) throw new InvalidFieldError(path, `more than ${MAX_SELECTOR_NAMES} names`)
  for (const n of names) {
    if (n === '' || Buffer.byteLength(n) > MAX_NAME_BYTES || /[\s\p{Cc}]/u.test(n)) throw new InvalidFieldError(path, `${JSON.stringify(n.slice(0, 40))}: not a host name or peer id (expected all, tag:KEY=VALUE or NAME[,NAME...])`)
  }
  return { kind: 'names', names }
}

export interface HostFacts { peerId: string, name: string, tags: Readonly<Record<string, string>> }

export function matchesSelector (sel: Selector, host: HostFacts): boolean {
  if (sel.kind === 'all') return true
  if (sel.kind === 'tag') return host.tags[sel.key] === sel.value
  return sel.names.includes(host.name) || sel.names.includes(host.peerId)
}

// ---- the spec ----
export interface DeploySpec {
  v: 1
  name: string
  /** 1, 2, ...: the issuing node takes the highest version it knows for the name, plus one */
  version: number
  /** an undeploy: every copy stops (argv empty) */
  deleted: boolean
  argv: string[]
  cwd: string | null
  env: Record<string, string>
  /** the selector's text (parseSelector) */
  selector: string
  /** copies to keep, or one on every matching host */
  replicas: number | 'every'
  /** at most this many copies on one host */
  spread: number
  restart: RestartPolicyName
  /** the peer id whose key signed the spec */
  author: string
  /** ms epoch, the author's clock (shown; not used to order specs) */
  issuedAt: number
}

export interface SignedSpec { spec: DeploySpec, sig: string }

/** Versions fit the 10 digits a copy's name leaves them. */
export const MAX_DEPLOY_VERSION = 9_999_999_999

export function validateSpec (value: unknown, path = 'spec', now = Date.now()): DeploySpec {
  const r = expectRecord(value, path)
  if (r.v !== 1) throw new InvalidFieldError(`${path}.v`, `unsupported spec version ${JSON.stringify(r.v)}`)
  const deleted = expectBoolean(r.deleted, `${path}.deleted`)
  const argvValue = expectArray(r.argv, `${path}.argv`, 4096)
  let argv: string[] = []
  if (deleted) {
    if (argvValue.length !== 0) throw new InvalidFieldError(`${path}.argv`, 'an undeploy carries no command')
  } else {
    try {
      argv = validateArgv(argvValue)
    } catch (err: unknown) {
      throw new ProcmeshError('INVALID_REQUEST', `${path}.${errorMessage(err)}`)
    }
  }
  const replicas = r.replicas === 'every' ? 'every' : expectInt(r.replicas, `${path}.replicas`, { min: deleted ? 0 : 1, max: MAX_REPLICAS })
  const selector = expectString(r.selector, `${path}.selector`, { maxBytes: MAX_SELECTOR_NAMES * (MAX_NAME_BYTES + 1) })
  parseSelector(selector, `${path}.selector`)
  const author = expectString(r.author, `${path}.author`, { minLength: 1, maxBytes: 128 })
  try {
    peerIdFromString(author)
  } catch {
    throw new InvalidFieldError(`${path}.author`, 'not a peer id')
  }
  const issuedAt = expectInt(r.issuedAt, `${path}.issuedAt`, { min: 0 })
  if (issuedAt > now + MAX_SPEC_CLOCK_SKEW_MS) throw new InvalidFieldError(`${path}.issuedAt`, `${new Date(issuedAt).toISOString()} is in the future (more than ${MAX_SPEC_CLOCK_SKEW_MS / 60000} minutes ahead of this node's clock)`)
  return {
    v: 1,
    name: validateDeployName(r.name, `${path}.name`),
    version: expectInt(r.version, `${path}.version`, { min: 1, max: MAX_DEPLOY_VERSION }),
    deleted,
    argv,
    cwd: r.cwd === null ? null : expectString(r.cwd, `${path}.cwd`, { maxBytes: MAX_PATH_BYTES, minLength: 1, noNul: true }),
    env: validateEnvAt(r.env, path),
    selector,
    replicas,
    spread: expectInt(r.spread, `${path}.spread`, { min: 1, max: MAX_SPREAD }),
    restart: expectOneOf(r.restart, `${path}.restart`, RESTART_POLICIES),
    author,
    issuedAt
  }
}

/** validateEnv, its messages prefixed with the spec's path (`spec.env.LD_PRELOAD: ...`). */
function validateEnvAt (value: unknown, path: string): Record<string, string> {
  try {
    return validateEnv(value)
  } catch (err: unknown) {
    throw new ProcmeshError('INVALID_REQUEST', `${path}.${errorMessage(err)}`)
  }
}

/**
 * The bytes that are signed and hashed: the fields in a fixed order, env keys sorted, no
 * whitespace. Two nodes encode one spec to the same bytes.
 */
export function canonicalSpec (s: DeploySpec): string {
  const env: Record<string, string> = {}
  for (const k of Object.keys(s.env).sort()) env[k] = s.env[k]
  return JSON.stringify({
    v: s.v, name: s.name, version: s.version, deleted: s.deleted, argv: s.argv, cwd: s.cwd, env,
    selector: s.selector, replicas: s.replicas, spread: s.spread, restart: s.restart, author: s.author, issuedAt: s.issuedAt
  })
}

/** What the signature covers: a domain prefix (so a spec signature can never pass for another message) and the canonical spec. */
export function specSigningBytes (s: DeploySpec): Uint8Array {
  return new TextEncoder().encode(`procmesh-deploy-spec:${canonicalSpec(s)}`)
}

/** The spec's identity (hex SHA-256 of its canonical encoding). */
export function specHash (s: DeploySpec): string {
  return createHash('sha256').update(canonicalSpec(s)).digest('hex')
}

/** The short form of a hash carried in digests (48 bits: collisions among 32 deployments are out of reach). */
export function shortHash (hash: string): string {
  return hash.slice(0, 12)
}

export async function signSpec (spec: DeploySpec, sign: (bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>): Promise<SignedSpec> {
  const sig = await sign(specSigningBytes(spec))
  return { spec, sig: Buffer.from(sig).toString('base64') }
}

/** Shape and size of a signed spec (the signature is checked by verifySignedSpec). */
export function validateSignedSpec (value: unknown, path = 'spec', now = Date.now()): SignedSpec {
  const r = expectRecord(value, path)
  const sig = expectString(r.sig, `${path}.sig`, { minLength: 1, maxBytes: 256, pattern: /^[A-Za-z0-9+/]+={0,2}$/ })
  const spec = validateSpec(r.spec, `${path}.spec`, now)
  const bytes = Buffer.byteLength(canonicalSpec(spec)) + sig.length
  if (bytes > MAX_SPEC_BYTES) throw new InvalidFieldError(path, `${bytes} bytes, over the ${MAX_SPEC_BYTES}-byte cap of a spec`)
  return { spec, sig }
}

/** Throws InvalidFieldError unless `sig` is the author's signature of the spec. */
export async function verifySignedSpec (signed: SignedSpec, path = 'spec'): Promise<void> {
  let ok = false
  try {
    const key = peerIdFromString(signed.spec.author).publicKey
    if (key === undefined) throw new Error('the author id carries no public key')
    ok = await key.verify(specSigningBytes(signed.spec), Buffer.from(signed.sig, 'base64'))
  } catch (err: unknown) {
    throw new InvalidFieldError(`${path}.sig`, `cannot be checked: ${errorMessage(err)}`)
  }
  if (!ok) throw new InvalidFieldError(`${path}.sig`, `not a signature of this spec by its author ${signed.spec.author}`)
}

// ---- the conflict rule ----
/** > 0 when a beats b (higher version; same version: greater hash). 0 only for the same spec. */
export function compareSpecs (a: DeploySpec, b: DeploySpec): number {
  if (a.version !== b.version) return a.version - b.version
  const ha = specHash(a)
  const hb = specHash(b)
  return ha === hb ? 0 : ha > hb ? 1 : -1
}

/** The winner of a name among `specs` (of that name) whose authors `trusted` accepts, or undefined. */
export function winningSpec<T extends { spec: DeploySpec }> (specs: readonly T[], trusted: (author: string) => boolean = () => true): T | undefined {
  let best: T | undefined
  for (const s of specs) {
    if (!trusted(s.spec.author)) continue
    if (best === undefined || compareSpecs(s.spec, best.spec) > 0) best = s
  }
  return best
}

/**
 * Which specs a node keeps (pure): per name the SPECS_KEPT_PER_NAME best, and the
 * SPECS_KEPT_PER_NAME best of the authors `trusted` accepts (those holding exec on this host).
 * A member without exec can sign any number of higher versions of any name: had those pushed
 * the trusted specs out, it could stop a deployment on every host (the spec they follow gone)
 * or drop an undeploy so that a replayed older version ran again. Over MAX_STORED_SPECS,
 * specs of untrusted authors go first (this host never runs them), then the names whose
 * winner is an undeploy, oldest issuedAt first. With every author trusted (the default) the
 * rule ignores trust, and nodes of one trust keep the same set.
 */
export function specsToKeep<T extends { spec: DeploySpec }> (specs: readonly T[], trusted: (author: string) => boolean = () => true): T[] {
  const byName = new Map<string, T[]>()
  for (const s of specs) {
    const list = byName.get(s.spec.name) ?? []
    list.push(s)
    byName.set(s.spec.name, list)
  }
  let groups: T[][] = []
  for (const list of byName.values()) {
    list.sort((a, b) => compareSpecs(b.spec, a.spec))
    const best = new Set(list.slice(0, SPECS_KEPT_PER_NAME))
    for (const s of list.filter(s => trusted(s.spec.author)).slice(0, SPECS_KEPT_PER_NAME)) best.add(s)
    groups.push(list.filter(s => best.has(s)))
  }
  let total = groups.reduce((n, g) => n + g.length, 0)
  if (total > MAX_STORED_SPECS) {
    const untrusted = groups.flat().filter(s => !trusted(s.spec.author)).sort((a, b) => a.spec.issuedAt - b.spec.issuedAt)
    const dropped = new Set(untrusted.slice(0, total - MAX_STORED_SPECS))
    if (dropped.size > 0) {
      total -= dropped.size
      groups = groups.map(g => g.filter(s => !dropped.has(s))).filter(g => g.length > 0)
    }
  }
  if (total > MAX_STORED_SPECS) {
    const tombstones = groups.filter(g => g[0].spec.deleted).sort((a, b) => a[0].spec.issuedAt - b[0].spec.issuedAt)
    for (const g of tombstones) {
      if (total <= MAX_STORED_SPECS) break
      total -= g.length
      groups.splice(groups.indexOf(g), 1)
    }
  }
  return groups.flat()
}

// ---- placement ----
/** One copy's place: a host and the slot on it (1..spread). rank 0 is the best-scoring slot. */
export interface Placed { peerId: string, slot: number, rank: number }

/** The rendezvous score of a slot: 52 bits of SHA-256(name, host, slot), as a number. */
export function slotScore (name: string, peerId: string, slot: number): number {
  return parseInt(createHash('sha256').update(`${name}\n${peerId}\n${slot}`).digest('hex').slice(0, 13), 16)
}

/**
 * Where the copies of `spec` run among `candidates` (peer ids of live hosts that match the
 * selector and accept the spec). Independent of the candidates' order; the same on every node.
 */
export function placement (spec: Pick<DeploySpec, 'name' | 'replicas' | 'spread' | 'deleted'>, candidates: readonly string[], score = slotScore): Placed[] {
  if (spec.deleted) return []
  const hosts = [...new Set(candidates)]
  const perHost = spec.replicas === 'every' ? 1 : spec.spread
  const slots: Array<{ peerId: string, slot: number, score: number }> = []
  for (const peerId of hosts) {
    for (let slot = 1; slot <= perHost; slot++) slots.push({ peerId, slot, score: score(spec.name, peerId, slot) })
  }
  slots.sort((a, b) => b.score - a.score || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : a.slot - b.slot))
  const take = spec.replicas === 'every' ? slots.length : Math.min(spec.replicas, slots.length)
  return slots.slice(0, take).map((s, rank) => ({ peerId: s.peerId, slot: s.slot, rank }))
}

// ---- copies: their managed names ----
/** A copy's managed name: `NAME-vVERSION-SLOT` (unique per host; a new version runs beside the old during a roll). */
export function copyName (name: string, version: number, slot: number): string {
  return `${name}-v${version}-${slot}`
}

const COPY_NAME = /^(.+)-v(\d{1,10})-(\d{1,3})$/

/** The deployment, version and slot a managed name says it is a copy of, or undefined. */
export function parseCopyName (managedName: string | null): { deployment: string, version: number, slot: number } | undefined {
  if (managedName === null) return undefined
  const m = COPY_NAME.exec(managedName)
  if (m === null || !DEPLOY_NAME_PATTERN.test(m[1])) return undefined
  return { deployment: m[1], version: Number(m[2]), slot: Number(m[3]) }
}

// ---- the digest each node gossips ----
/**
 * Whether a host runs a spec's copies when placed: `run`, or why not: its selector does not name
 * the host, the author lacks exec in the host's trust, the host's start policy refuses the
 * command, or the host is read-only.
 */
export const ACCEPTANCES = ['run', 'no-match', 'no-exec', 'policy', 'readonly'] as const
export type Acceptance = typeof ACCEPTANCES[number]

/**
 * One deployment as one host sees it. `h`: short hash of the spec the host follows for the name
 * (the newest it trusts; else the newest it holds, with `a` saying why it does not run it);
 * `r`: its copies of that spec running; `o`: its running copies of other versions (a roll or an
 * undeploy in progress).
 */
export interface DigestEntry { n: string, h: string, a: Acceptance, r: number, o: number }

export interface DeployDigest {
  v: 1
  /** the node it describes, which must be the gossip message's signer */
  peerId: string
  /** strictly increasing per node, across restarts (ms-clock based) */
  seq: number
  /** short hash of the set of specs the node holds (indexHash): differs from ours, one of us lacks something */
  index: string
  entries: DigestEntry[]
  /**
   * A spec this node has just issued (its author is `peerId`), pushed with the digest so that no
   * node needs a pull round trip to the author; each receiver checks its signature like any
   * spec. Absent from every other digest (the pull repairs what a receiver missed).
   */
  spec?: SignedSpec
}

/** The set of specs a node holds, as one short hash (hashes sorted, so order does not matter). */
export function indexHash (hashes: Iterable<string>): string {
  return createHash('sha256').update([...hashes].sort().join('\n')).digest('hex').slice(0, 16)
}

const SHORT_HASH = /^[0-9a-f]{12}$/
const INDEX_HASH = /^[0-9a-f]{16}$/

export function validateDigest (value: unknown, path = 'digest'): DeployDigest {
  const r = expectRecord(value, path)
  if (r.v !== 1) throw new InvalidFieldError(`${path}.v`, `unsupported version ${JSON.stringify(r.v)}`)
  const digest: DeployDigest = {
    v: 1,
    peerId: expectString(r.peerId, `${path}.peerId`, { minLength: 1, maxBytes: 128 }),
    seq: expectInt(r.seq, `${path}.seq`, { min: 0 }),
    index: expectString(r.index, `${path}.index`, { pattern: INDEX_HASH }),
    entries: expectArray(r.entries, `${path}.entries`, MAX_DEPLOYMENTS).map((v, i) => {
      const e = expectRecord(v, `${path}.entries[${i}]`)
      return {
        n: validateDeployName(e.n, `${path}.entries[${i}].n`),
        h: expectString(e.h, `${path}.entries[${i}].h`, { pattern: SHORT_HASH }),
        a: expectOneOf(e.a, `${path}.entries[${i}].a`, ACCEPTANCES),
        r: expectInt(e.r, `${path}.entries[${i}].r`, { min: 0, max: MAX_SPREAD * 2 }),
        o: expectInt(e.o, `${path}.entries[${i}].o`, { min: 0, max: MAX_SPREAD * 4 })
      }
    })
  }
  if (r.spec === undefined) return digest
  const spec = validateSignedSpec(r.spec, `${path}.spec`)
  // a node pushes only what it signed itself: nobody relays (or replays) another's spec this way
  if (spec.spec.author !== digest.peerId) throw new InvalidFieldError(`${path}.spec.spec.author`, `${spec.spec.author} is not the digest's node ${digest.peerId}`)
  return { ...digest, spec }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** A digest's cap: MAX_SUMMARY_BYTES, and one spec's more when it carries one. */
function digestCap (withSpec: boolean): number {
  return withSpec ? MAX_DIGEST_WITH_SPEC_BYTES : MAX_SUMMARY_BYTES
}

export function encodeDigest (d: DeployDigest): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(d))
  const cap = digestCap(d.spec !== undefined)
  if (bytes.byteLength > cap) throw new InvalidFieldError('digest', `${bytes.byteLength} bytes, over the ${cap}-byte gossip cap`)
  return bytes
}

export function decodeDigest (bytes: Uint8Array): DeployDigest {
  if (bytes.byteLength > MAX_DIGEST_WITH_SPEC_BYTES) throw new InvalidFieldError('digest', `${bytes.byteLength} bytes, over the ${MAX_DIGEST_WITH_SPEC_BYTES}-byte cap`)
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(bytes))
  } catch {
    throw new InvalidFieldError('digest', 'not valid UTF-8 JSON')
  }
  const digest = validateDigest(parsed)
  // the larger cap is for a digest carrying a spec only
  if (digest.spec === undefined && bytes.byteLength > MAX_SUMMARY_BYTES) throw new InvalidFieldError('digest', `${bytes.byteLength} bytes, over the ${MAX_SUMMARY_BYTES}-byte cap of a digest without a spec`)
  return digest
}

// ---- the sync protocol ----
/**
 * A node sends the hashes of the specs it holds; the peer answers the specs it holds that are not
 * among them (the sender's missing or newer ones), and its own digest. The peer, seeing hashes it
 * does not hold, syncs back. One round trip each way repairs any difference.
 */
export interface DeploySyncRequest { type: 'deploy-sync', have: string[] }
export interface DeploySyncResult { specs: SignedSpec[], digest: DeployDigest | null }

const FULL_HASH = /^[0-9a-f]{64}$/

export const DEPLOY_SYNC: ProtocolDescriptor<DeploySyncRequest, DeploySyncResult> = {
  id: DEPLOY_SYNC_PROTOCOL,
  // specs are public within the mesh (every member replicates them); running one needs exec on the host
  role: 'read',
  // 256 hashes of 64 hex characters
  maxRequestBytes: 32 * 1024,
  // MAX_STORED_SPECS specs of at most MAX_SPEC_BYTES, JSON-escaped (x2 at worst), and a digest
  maxResponseBytes: MAX_STORED_SPECS * MAX_SPEC_BYTES * 2 + MAX_SUMMARY_BYTES,
  readDeadlineMs: 5000,
  deadlineMs: 10_000,
  maxInboundStreams: 4,
  maxOutboundStreams: 8,
  validateRequest (value) {
    const r = expectRecord(value, 'request')
    expectType(r, 'deploy-sync')
    return { type: 'deploy-sync', have: expectArray(r.have, 'have', MAX_STORED_SPECS).map((h, i) => expectString(h, `have[${i}]`, { pattern: FULL_HASH })) }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return {
      specs: expectArray(r.specs, 'result.specs', MAX_STORED_SPECS).map((s, i) => validateSignedSpec(s, `result.specs[${i}]`)),
      digest: r.digest === null ? null : validateDigest(r.digest, 'result.digest')
    }
  }
}

// ---- what `procmesh deployments` shows ----
export const REPLICA_STATES = ['running', 'starting', 'restarting', 'crash-loop', 'exited', 'stopped', 'unknown'] as const
export type ReplicaState = typeof REPLICA_STATES[number]

/** One placed copy: where, and what that host last said about it. */
export interface ReplicaStatus { host: string, peerId: string, slot: number, copy: string, state: ReplicaState }

export interface DeploymentStatus {
  name: string
  version: number
  hash: string
  author: string
  issuedAt: number
  argv: string[]
  selector: string
  replicas: number | 'every'
  spread: number
  restart: RestartPolicyName
  /** copies wanted now (replicas, or the accepting matching hosts for every) */
  desired: number
  /** copies of this version reported running */
  running: number
  /** copies of older versions still running (a roll in progress) */
  old: number
  placed: ReplicaStatus[]
  /** why fewer than `replicas` copies can be placed, or a roll waits; empty when all is well */
  problems: string[]
  /** this node's own view: does it run copies of this spec, and if not why */
  here: Acceptance
}

export function isReplicaState (v: unknown): v is ReplicaState { return isOneOf(v, REPLICA_STATES) }

export function validateDeploymentStatus (value: unknown, path: string): DeploymentStatus {
  const r = expectRecord(value, path)
  const text = (v: unknown, p: string): string => expectString(v, p, { maxBytes: 4096 })
  return {
    name: validateDeployName(r.name, `${path}.name`),
    version: expectInt(r.version, `${path}.version`, { min: 1, max: MAX_DEPLOY_VERSION }),
    hash: expectString(r.hash, `${path}.hash`, { pattern: FULL_HASH }),
    author: text(r.author, `${path}.author`),
    issuedAt: expectInt(r.issuedAt, `${path}.issuedAt`, { min: 0 }),
    argv: expectArray(r.argv, `${path}.argv`, 4096).map((a, i) => expectString(a, `${path}.argv[${i}]`, { maxBytes: MAX_SPEC_BYTES })),
    selector: text(r.selector, `${path}.selector`),
    replicas: r.replicas === 'every' ? 'every' : expectInt(r.replicas, `${path}.replicas`, { min: 0, max: MAX_REPLICAS }),
    spread: expectInt(r.spread, `${path}.spread`, { min: 1, max: MAX_SPREAD }),
    restart: expectOneOf(r.restart, `${path}.restart`, RESTART_POLICIES),
    desired: expectInt(r.desired, `${path}.desired`, { min: 0 }),
    running: expectInt(r.running, `${path}.running`, { min: 0 }),
    old: expectInt(r.old, `${path}.old`, { min: 0 }),
    placed: expectArray(r.placed, `${path}.placed`, MAX_REPLICAS * MAX_SPREAD).map((v, i) => {
      const p = expectRecord(v, `${path}.placed[${i}]`)
      return {
        host: text(p.host, `${path}.placed[${i}].host`),
        peerId: text(p.peerId, `${path}.placed[${i}].peerId`),
        slot: expectInt(p.slot, `${path}.placed[${i}].slot`, { min: 1, max: MAX_SPREAD }),
        copy: text(p.copy, `${path}.placed[${i}].copy`),
        state: expectOneOf(p.state, `${path}.placed[${i}].state`, REPLICA_STATES)
      }
    }),
    problems: expectArray(r.problems, `${path}.problems`, 10_000).map((p, i) => text(p, `${path}.problems[${i}]`)),
    here: expectOneOf(r.here, `${path}.here`, ACCEPTANCES)
  }
}

// ---- the control API's deploy and undeploy ----
/** What `procmesh deploy` asks the local node to sign and spread. */
export interface DeployParams {
  name: string
  argv: string[]
  cwd?: string
  env?: Record<string, string>
  selector: string
  replicas: number | 'every'
  spread?: number
  restart?: RestartPolicyName
}

export interface DeployResult { name: string, version: number, hash: string, author: string, deleted: boolean }

export function validateDeployParams (value: unknown): DeployParams {
  const r = expectRecord(value ?? {}, 'params')
  const selector = expectString(r.selector, 'selector', { minLength: 1, maxBytes: MAX_SELECTOR_NAMES * (MAX_NAME_BYTES + 1) })
  parseSelector(selector)
  return {
    name: validateDeployName(r.name),
    argv: validateArgv(r.argv),
    ...(r.cwd !== undefined ? { cwd: expectString(r.cwd, 'cwd', { maxBytes: MAX_PATH_BYTES, minLength: 1, noNul: true }) } : {}),
    ...(r.env !== undefined ? { env: validateEnv(r.env) } : {}),
    selector,
    replicas: r.replicas === 'every' ? 'every' : expectInt(r.replicas, 'replicas', { min: 1, max: MAX_REPLICAS }),
    ...(r.spread !== undefined ? { spread: expectInt(r.spread, 'spread', { min: 1, max: MAX_SPREAD }) } : {}),
    ...(r.restart !== undefined ? { restart: expectOneOf(r.restart, 'restart', RESTART_POLICIES) } : {})
  }
}

export function validateDeployResult (value: unknown): DeployResult {
  const r = expectRecord(value, 'result')
  return {
    name: validateDeployName(r.name, 'result.name'),
    version: expectInt(r.version, 'result.version', { min: 1, max: MAX_DEPLOY_VERSION }),
    hash: expectString(r.hash, 'result.hash', { pattern: FULL_HASH }),
    author: expectString(r.author, 'result.author', { maxBytes: 128 }),
    deleted: expectBoolean(r.deleted, 'result.deleted')
  }
}

/** The restart policy of copies unless the deploy says otherwise: a deployment is meant to stay up. */
export const DEFAULT_DEPLOY_RESTART: RestartPolicyName = 'always'
