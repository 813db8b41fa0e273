/**
 * What travels on the summary topic (pure): a node announces changes, not state.
 *
 * Every message is signed by its author (gossipsub StrictSign) and carries a header:
 * the node it describes (`peerId`, which must be the author), a sequence number `seq`
 * (strictly increasing per node, ms-clock based so it also increases across restarts)
 * and `prev`, the sequence number of the author's previous message on the topic.
 *
 * - `full`: the whole summary (the Summary fields). Sent when a peer subscribes (at most
 *   once per interval) and served on request over the summary protocol.
 * - `delta`: only the summary fields that changed in a way a viewer would notice (see
 *   `summaryChanges`); each carried field is an absolute value, never an increment, so
 *   applying a delta after a missed one is still correct for the fields it carries.
 * - `alive`: a keep-alive with the host figures that drifted below the thresholds, sent
 *   when nothing else was published for a keep-alive period (limits.ts). Bounds how old the figures in
 *   anyone's view can be.
 * - `leave`: a goodbye from a node that stops; viewers mark it offline at once.
 * - `gone`: a notice from a member that lost its direct connection to `target` (the target's
 *   connection closed, or it stopped answering probes). Members with their own direct
 *   connection to the target ignore it; the others (relayed) mark the target offline until
 *   something newer comes from it. A target that hears a notice about itself answers with a
 *   keep-alive at once (SWIM's refutation), so a false or forged notice costs one message.
 *
 * Gaps: a receiver whose last sequence number from the author is not the message's
 * `prev` missed something (or never saw the node): it applies what the message carries
 * and pulls the full summary from the author over SUMMARY_PROTOCOL. A message whose
 * `seq` is not newer than the last one seen is a replay and is ignored.
 */
import { InvalidFieldError, ProcmeshError } from './errors.js'
import {
  CHANGE_CPU_POINTS, CHANGE_LOAD_MIN, CHANGE_LOAD_RATIO, CHANGE_MEM_FRACTION, CHANGE_RSS_RATIO,
  CHANGE_TOP_CPU_POINTS, MAX_SUMMARY_BYTES, TOP_CPU_NOTICE_PERCENT
} from './limits.js'
import { validateSummary } from './summary.js'
import type { HostInfo, Summary, TopProcess } from './types.js'
import { expectInt, expectOneOf, expectRecord, expectString } from './validate.js'

/** The summary fields a delta may carry (everything but the header). */
export const DELTA_FIELDS = ['name', 'tags', 'intervalMs', 'host', 'procCount', 'topCpu', 'topMem', 'addrs', 'version'] as const
export type DeltaField = typeof DELTA_FIELDS[number]
export type SummaryChanges = Partial<Pick<Summary, DeltaField>>

export const GOSSIP_KINDS = ['full', 'delta', 'alive', 'leave', 'gone'] as const
export type GossipKind = typeof GOSSIP_KINDS[number]

interface Header { v: 1, peerId: string, seq: number, prev: number, at: number }
export type FullMessage = Header & { kind: 'full', summary: Summary }
export type DeltaMessage = Header & { kind: 'delta' | 'alive', changes: SummaryChanges }
export type LeaveMessage = Header & { kind: 'leave' }
/** `peerId` is the reporter (the author); `target` the member it lost */
export type GoneMessage = Header & { kind: 'gone', target: string }
export type GossipMessage = FullMessage | DeltaMessage | LeaveMessage | GoneMessage

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Wire form: a `full` message is the summary itself plus `kind` and `prev` (so a node of the
 * previous version, which reads bare summaries, still understands it); the others are the
 * header plus their fields.
 */
export function encodeGossip (msg: GossipMessage): Uint8Array {
  const wire = msg.kind === 'full' ? { ...msg.summary, kind: 'full', prev: msg.prev } : msg
  const bytes = encoder.encode(JSON.stringify(wire))
  if (bytes.byteLength > MAX_SUMMARY_BYTES) {
    throw new ProcmeshError('INVALID_REQUEST', `gossip message is ${bytes.byteLength} bytes, over the ${MAX_SUMMARY_BYTES}-byte cap`)
  }
  return bytes
}

/** Decode and validate one message from the topic. Throws InvalidFieldError naming the problem. */
export function decodeGossip (bytes: Uint8Array): GossipMessage {
  if (bytes.byteLength > MAX_SUMMARY_BYTES) {
    throw new InvalidFieldError('message', `${bytes.byteLength} bytes, over the ${MAX_SUMMARY_BYTES}-byte cap`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(bytes))
  } catch {
    throw new InvalidFieldError('message', 'not valid UTF-8 JSON')
  }
  const r = expectRecord(parsed, 'message')
  // a bare summary (no kind) is what nodes of the previous version publish
  const kind = r.kind === undefined ? 'full' : expectOneOf(r.kind, 'message.kind', GOSSIP_KINDS)
  if (kind === 'full') {
    const summary = validateSummary(r)
    const prev = r.prev === undefined ? 0 : expectInt(r.prev, 'message.prev', { min: 0 })
    return { v: 1, kind, peerId: summary.peerId, seq: summary.seq, prev, at: summary.at, summary }
  }
  if (r.v !== 1) throw new InvalidFieldError('message.v', `unsupported version ${String(r.v)}`)
  const header: Header = {
    v: 1,
    peerId: expectString(r.peerId, 'message.peerId', { minLength: 1, maxBytes: 128 }),
    seq: expectInt(r.seq, 'message.seq', { min: 0 }),
    prev: expectInt(r.prev, 'message.prev', { min: 0 }),
    at: expectInt(r.at, 'message.at', { min: 0 })
  }
  if (header.prev >= header.seq) throw new InvalidFieldError('message.prev', `${header.prev} is not before seq ${header.seq}`)
  if (kind === 'leave') return { ...header, kind }
  if (kind === 'gone') {
    const target = expectString(r.target, 'message.target', { minLength: 1, maxBytes: 128 })
    if (target === header.peerId) throw new InvalidFieldError('message.target', 'a node cannot report itself gone (it sends leave)')
    return { ...header, kind, target }
  }
  return { ...header, kind, changes: validateChanges(r.changes) }
}

/**
 * Validate the fields of a delta with the summary's own rules: the fields are put over a
 * placeholder summary and the whole is validated, so a delta can never carry a value a
 * full summary could not.
 */
export function validateChanges (value: unknown): SummaryChanges {
  const c = expectRecord(value, 'message.changes')
  for (const key of Object.keys(c)) {
    if (!(DELTA_FIELDS as readonly string[]).includes(key)) throw new InvalidFieldError(`message.changes.${key}`, 'not a summary field a delta may carry')
  }
  const merged = validateSummary({ ...PLACEHOLDER, ...c })
  const out: SummaryChanges = {}
  for (const key of DELTA_FIELDS) {
    if (key in c) (out as Record<string, unknown>)[key] = merged[key]
  }
  return out
}

const PLACEHOLDER: Summary = {
  v: 1,
  peerId: 'placeholder',
  name: 'placeholder',
  tags: {},
  seq: 0,
  at: 0,
  intervalMs: 2000,
  host: { hostname: '', platform: '', arch: '', cpus: 0, cpuPercent: 0, load: [0, 0, 0], memTotal: 0, memUsed: 0, uptime: 0 },
  procCount: 0,
  topCpu: [],
  topMem: [],
  addrs: [],
  version: ''
}

/** A summary with a message's changes applied (pure; the header moves to the message's). */
export function applyChanges (base: Summary, msg: DeltaMessage): Summary {
  return { ...base, ...msg.changes, peerId: base.peerId, seq: msg.seq, at: msg.at }
}

// ---- what counts as a change ----

function sameJson (a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/** Host figures that moved past the thresholds a viewer notices (limits.ts says why each). */
export function hostChanged (a: HostInfo, b: HostInfo): boolean {
  if (a.hostname !== b.hostname || a.cpus !== b.cpus || a.memTotal !== b.memTotal || a.platform !== b.platform || a.arch !== b.arch) return true
  if (Math.abs(a.cpuPercent - b.cpuPercent) >= CHANGE_CPU_POINTS) return true
  if (b.memTotal > 0 && Math.abs(a.memUsed - b.memUsed) >= CHANGE_MEM_FRACTION * b.memTotal) return true
  // a figure crossing one of the host's own limits is news at once, whatever its size
  if (alertKey(a) !== alertKey(b)) return true
  const dl = Math.abs(a.load[0] - b.load[0])
  return dl >= CHANGE_LOAD_MIN && dl >= CHANGE_LOAD_RATIO * Math.max(a.load[0], b.load[0])
}

function alertKey (h: HostInfo): string {
  return (h.alerts ?? []).map(x => `${x.metric}:${x.mount ?? ''}:${x.level}`).join(' ')
}

/**
 * A top list changed when the processes that matter in it changed (for CPU, those using at
 * least TOP_CPU_NOTICE_PERCENT: idle processes at 0.0-0.5% reorder on every sample and
 * nobody reads that order) or when one of them moved past a threshold.
 */
export function topChanged (a: TopProcess[], b: TopProcess[], by: 'cpu' | 'mem'): boolean {
  const notable = (list: TopProcess[]): TopProcess[] => by === 'cpu' ? list.filter(p => p.cpuPercent >= TOP_CPU_NOTICE_PERCENT) : list
  const na = notable(a)
  const nb = notable(b)
  if (na.length !== nb.length) return true
  const old = new Map(na.map(p => [p.pid, p]))
  for (const p of nb) {
    const q = old.get(p.pid)
    if (q === undefined || q.name !== p.name) return true
    if (by === 'cpu' && Math.abs(q.cpuPercent - p.cpuPercent) >= CHANGE_TOP_CPU_POINTS) return true
    if (by === 'mem' && Math.abs(q.rss - p.rss) >= CHANGE_RSS_RATIO * q.rss) return true
  }
  return false
}

/**
 * The fields of `next` a viewer of `published` (what the mesh last heard) would notice as
 * changed. `all` lists every field that differs at all (for a keep-alive).
 */
export function summaryChanges (published: Summary, next: Summary, all = false): SummaryChanges {
  const out: SummaryChanges = {}
  const set = <K extends DeltaField>(key: K): void => { out[key] = next[key] }
  for (const key of ['name', 'tags', 'intervalMs', 'procCount', 'addrs', 'version'] as const) {
    if (!sameJson(published[key], next[key])) set(key)
  }
  if (all ? !sameJson(published.host, next.host) : hostChanged(published.host, next.host)) set('host')
  if (all ? !sameJson(published.topCpu, next.topCpu) : topChanged(published.topCpu, next.topCpu, 'cpu')) set('topCpu')
  if (all ? !sameJson(published.topMem, next.topMem) : topChanged(published.topMem, next.topMem, 'mem')) set('topMem')
  return out
}

/** Fields that are figures (rate-limited by FIGURE_DELTA_MIN_MS), not events. */
export const FIGURE_FIELDS: ReadonlySet<DeltaField> = new Set<DeltaField>(['host', 'topCpu', 'topMem'])

/** True when a change carries more than figures: a process count, a name, tags, addresses. */
export function isEventChange (c: SummaryChanges): boolean {
  return (Object.keys(c) as DeltaField[]).some(k => !FIGURE_FIELDS.has(k))
}

export function isEmptyChange (c: SummaryChanges): boolean {
  return Object.keys(c).length === 0
}
