/**
 * The gossip announcer: samples the host every interval and tells the mesh what changed
 * (protocols/gossip.ts): a delta when something a viewer would notice changed, a keep-alive
 * when nothing was said for a keep-alive period (limits.ts), a full summary when a peer subscribes (at most
 * once per interval), a goodbye when the node stops. Between samples it watches /proc's
 * directory for new and ended pids, so a started process is announced at once.
 *
 * On the receiving side it validates every message into the mesh view and pulls a node's
 * full summary over SUMMARY_PROTOCOL when it missed something (a sequence gap) or does not
 * know the node yet, and from every newly connected peer.
 */
import { moreSuffix, ReportThrottle } from '../report-throttle.js'
import { TopicValidatorResult, type Message, type SubscriptionChangeData } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { readdir } from 'node:fs/promises'
import { errorMessage } from '../../protocols/errors.js'
import {
  decodeGossip, encodeGossip, FIGURE_FIELDS, isEmptyChange, isEventChange, summaryChanges, type GossipMessage, type SummaryChanges
} from '../../protocols/gossip.js'
import { SUMMARY_TOPIC } from '../../protocols/ids.js'
import { figureDeltaMs, keepAliveMs, MIN_CHANGE_SAMPLE_MS, PID_WATCH_MS } from '../../protocols/limits.js'
import type { Snapshot, Summary } from '../../protocols/types.js'
import type { ProcmeshLibp2p } from './libp2p.js'
import type { Logger } from '../logger.js'
import type { MeshView } from './mesh-view.js'
import { buildSummary, type SummaryIdentity } from './summary-builder.js'
import { monoNow } from './clock.js'
import { SeqLease, type SeqSource } from './seq-lease.js'

export interface Sampler { sample: () => Promise<Snapshot> }

/** Pulls of a peer's summary that failed are tried again after these delays (ms). */
const PULL_RETRY_MS = [300, 1500]

/** A lost member is reported after a random delay in [MIN, MIN + SPREAD) ms (suppression). */
const GONE_DELAY_MIN_MS = 300
const GONE_DELAY_SPREAD_MS = 2000
/** Recent gone notices remembered, for suppression: bounded against a flood of fake targets. */
const MAX_GONE_HEARD = 1024

/** A member whose messages are not newer than what we hold is asked for its summary at most this often (ms). */
const RESET_PULL_EVERY_MS = 30_000

/** A full mesh view is reported at most this often (ms). */
const VIEW_FULL_WARN_EVERY_MS = 60_000

/** How a leaving node waits for its goodbye to be written to its peers (ms). */
const GOODBYE_FLUSH_MS = 150

export interface AnnouncerInit {
  libp2p: ProcmeshLibp2p
  view: MeshView
  sampler: Sampler
  intervalMs: number
  identity: () => SummaryIdentity
  log: Logger
  /** pull a peer's full summary (SUMMARY_PROTOCOL); rejects when it cannot be reached */
  pullSummary: (peerId: string) => Promise<Summary>
  /** called with every fresh snapshot (history ring, list protocol) */
  onSnapshot?: (snap: Snapshot) => void
  /** called for every rejected message, with the author and reason (audit, tests) */
  onReject?: (author: string, reason: string) => void
  /** watch /proc for new and ended pids between samples (default: when /proc exists) */
  watchPids?: boolean
  /** ms; by default it grows with the mesh (protocols/limits.ts keepAliveMs) */
  keepAliveMs?: number
  /** this node's sequence numbers (node/mesh/seq-lease.ts); default: in memory, from the clock */
  seqs?: SeqSource
  /** monotonic ms for durations and the view (node/mesh/clock.ts); tests inject one */
  clock?: () => number
}

/** Counters of what this node published and pulled (bench and tests read them). */
export interface AnnouncerStats { full: number, delta: number, alive: number, pulls: number, pullFailures: number }

/** A cheap fingerprint of the pid set: count and sum of the numeric entries of /proc. */
export async function pidFingerprint (root = '/proc'): Promise<string> {
  const names = await readdir(root)
  let count = 0
  let sum = 0
  for (const n of names) {
    const c = n.charCodeAt(0)
    if (c < 48 || c > 57) continue
    count++
    sum += Number(n)
  }
  return `${count}:${sum}`
}

export class SummaryAnnouncer {
  private readonly init: AnnouncerInit
  private readonly keepAliveMs?: number
  private readonly seqs: SeqSource
  private readonly clock: () => number
  /** author -> when a not-newer message from it last made us pull its summary (monotonic) */
  private readonly resetPulls = new Map<string, number>()
  private lastFullWarnAt = -Infinity
  private readonly rejections = new ReportThrottle()
  private timer?: NodeJS.Timeout
  private watchTimer?: NodeJS.Timeout
  private running = false
  private seq = 0
  /** the state the mesh has heard: the last full summary with every delta since applied */
  private published?: Summary
  private latest?: Snapshot
  private lastPublishAt = 0
  private lastFullAt = 0
  private lastFigureDeltaAt = 0
  private fullPending?: NodeJS.Timeout
  private ticking?: Promise<void>
  private lastFingerprint?: string
  private lastChangeSampleAt = 0
  private changeSampling = false
  private readonly pulling = new Set<string>()
  private readonly goneTimers = new Map<string, NodeJS.Timeout>()
  /** target -> when a gone notice about it was last heard */
  private readonly goneHeard = new Map<string, number>()
  readonly stats: AnnouncerStats = { full: 0, delta: 0, alive: 0, pulls: 0, pullFailures: 0 }

  constructor (init: AnnouncerInit) {
    this.init = init
    this.keepAliveMs = init.keepAliveMs
    this.seqs = init.seqs ?? new SeqLease(undefined)
    this.clock = init.clock ?? monoNow
  }

  /**
   * Take the first sample and make this node's own summary before libp2p starts, so the
   * first peer that connects (and pulls it at once) finds it ready.
   */
  async prime (): Promise<void> {
    const snap = await this.init.sampler.sample()
    this.latest = snap
    this.init.onSnapshot?.(snap)
    this.seq = this.seqs.next()
    this.init.view.setSelf({ ...buildSummary(snap, this.identityNow(), this.seq), at: Date.now() }, this.clock())
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    const { libp2p } = this.init
    const { pubsub } = libp2p.services
    pubsub.topicValidators.set(SUMMARY_TOPIC, this.validate)
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    libp2p.addEventListener('peer:connect', this.onConnect)
    libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    pubsub.subscribe(SUMMARY_TOPIC)
    await this.tick()
    if (this.init.watchPids ?? process.platform === 'linux') this.scheduleWatch()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    // goodbye first, while the connections are still there: viewers mark us offline at once
    await this.publishLeave()
    this.running = false
    clearTimeout(this.timer)
    clearTimeout(this.watchTimer)
    clearTimeout(this.fullPending)
    for (const t of this.goneTimers.values()) clearTimeout(t)
    this.goneTimers.clear()
    const { libp2p } = this.init
    const { pubsub } = libp2p.services
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    libp2p.removeEventListener('peer:connect', this.onConnect)
    libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    pubsub.topicValidators.delete(SUMMARY_TOPIC)
    await this.ticking
  }

  /** Sample, announce what changed, and schedule the next tick (a chain, so ticks never overlap). */
  private async tick (): Promise<void> {
    this.ticking = this.sampleAndAnnounce()
    await this.ticking
    if (this.running) {
      this.timer = setTimeout(() => { this.tick().catch((err: unknown) => { this.init.log.error('tick failed: %s', errorMessage(err)) }) }, this.init.intervalMs)
    }
  }

  private async sampleAndAnnounce (): Promise<void> {
    try {
      const snap = await this.init.sampler.sample()
      this.latest = snap
      this.init.onSnapshot?.(snap)
      this.announce(snap)
    } catch (err: unknown) {
      this.init.log.warn('sampling failed: %s', errorMessage(err))
    }
  }

  /** Between samples: a changed pid set triggers a sample and a delta at once. */
  private scheduleWatch (): void {
    this.watchTimer = setTimeout(() => {
      this.watch().catch((err: unknown) => { this.init.log.debug('pid watch failed: %s', errorMessage(err)) }).finally(() => {
        if (this.running) this.scheduleWatch()
      })
    }, PID_WATCH_MS)
  }

  private async watch (): Promise<void> {
    const fp = await pidFingerprint()
    const changed = this.lastFingerprint !== undefined && fp !== this.lastFingerprint
    this.lastFingerprint = fp
    if (!changed || this.changeSampling || !this.running) return
    if (this.clock() - this.lastChangeSampleAt < MIN_CHANGE_SAMPLE_MS) return
    this.changeSampling = true
    this.lastChangeSampleAt = this.clock()
    try {
      await this.sampleAndAnnounce()
    } finally {
      this.changeSampling = false
    }
  }

  private identityNow (): SummaryIdentity {
    return this.init.identity()
  }

  /** Decide what to say about a fresh snapshot. */
  private announce (snap: Snapshot): void {
    if (!this.running) return
    const now = this.clock()
    const current = buildSummary(snap, this.identityNow(), this.seq)
    if (this.published === undefined) {
      this.publishFull(current, now)
      return
    }
    const changes = summaryChanges(this.published, current)
    const members = this.init.view.size
    const figuresDue = now - this.lastFigureDeltaAt >= figureDeltaMs(members)
    if (isEventChange(changes) || (!isEmptyChange(changes) && figuresDue)) {
      // an event goes at once, with whatever figures also moved
      this.publishDelta('delta', changes, current, now)
    } else if (now - this.lastPublishAt >= (this.keepAliveMs ?? keepAliveMs(members))) {
      this.publishDelta('alive', summaryChanges(this.published, current, true), current, now)
    } else {
      // nothing a viewer would notice: our own entry stays live, the mesh hears nothing (our
      // entry's lastSeen stays the time we last told the mesh something)
      this.init.view.setSelf({ ...current, seq: this.seq }, this.lastPublishAt)
    }
  }

  /** `now`: monotonic (durations, the view); messages carry the wall clock in `at`, for people */
  private publishFull (current: Summary, now: number): void {
    const prev = this.seq
    this.seq = this.seqs.next()
    const at = Date.now()
    const summary = { ...current, seq: this.seq, at }
    this.published = summary
    this.lastPublishAt = now
    this.lastFullAt = now
    this.stats.full++
    this.init.view.setSelf(summary, now)
    this.send({ v: 1, kind: 'full', peerId: summary.peerId, seq: this.seq, prev, at, summary })
  }

  private publishDelta (kind: 'delta' | 'alive', changes: SummaryChanges, current: Summary, now: number): void {
    if (this.published === undefined) return
    const prev = this.seq
    this.seq = this.seqs.next()
    const at = Date.now()
    this.published = { ...this.published, ...changes, seq: this.seq, at }
    this.lastPublishAt = now
    if ((Object.keys(changes) as Array<keyof SummaryChanges>).some(k => FIGURE_FIELDS.has(k))) this.lastFigureDeltaAt = now
    this.stats[kind]++
    this.send({ v: 1, kind, peerId: this.published.peerId, seq: this.seq, prev, at, changes })
    this.init.view.setSelf({ ...current, seq: this.seq }, now)
  }

  private send (msg: GossipMessage): void {
    let bytes: Uint8Array
    try {
      bytes = encodeGossip(msg)
    } catch (err: unknown) {
      this.init.log.warn('not publishing a %s message: %s', msg.kind, errorMessage(err))
      return
    }
    this.init.libp2p.services.pubsub.publish(SUMMARY_TOPIC, bytes).catch((err: unknown) => {
      this.init.log.debug('publish failed: %s', errorMessage(err))
    })
  }

  private async publishLeave (): Promise<void> {
    if (this.published === undefined) return
    const prev = this.seq
    this.seq = this.seqs.next()
    try {
      const bytes = encodeGossip({ v: 1, kind: 'leave', peerId: this.published.peerId, seq: this.seq, prev, at: Date.now() })
      await Promise.race([
        this.init.libp2p.services.pubsub.publish(SUMMARY_TOPIC, bytes),
        new Promise(resolve => { setTimeout(resolve, GOODBYE_FLUSH_MS).unref() })
      ])
      // the publish resolves when the message is queued; give the streams a moment to write it
      await new Promise(resolve => { setTimeout(resolve, 20).unref() })
    } catch (err: unknown) {
      this.init.log.debug('goodbye not sent: %s', errorMessage(err))
    }
  }

  /**
   * A newly subscribed peer (and whoever it relays to) needs our whole state: publish a full
   * summary, at most once per interval whatever the churn (a peer toggling its subscription
   * must not make us flood the mesh). Directly connected peers also pull it on connect.
   */
  private readonly onSubscriptionChange = (evt: CustomEvent<SubscriptionChangeData>): void => {
    if (!evt.detail.subscriptions.some(s => s.topic === SUMMARY_TOPIC && s.subscribe)) return
    if (this.fullPending !== undefined || this.published === undefined) return
    const wait = Math.max(0, this.lastFullAt + this.init.intervalMs - this.clock())
    this.fullPending = setTimeout(() => {
      this.fullPending = undefined
      const snap = this.latest
      if (snap !== undefined && this.running) this.publishFull(buildSummary(snap, this.identityNow(), this.seq), this.clock())
    }, wait)
    this.fullPending.unref()
  }

  get latestSnapshot (): Snapshot | undefined {
    return this.latest
  }

  /** A new direct connection: pull the peer's full summary (it does the same with ours). */
  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    this.pull(evt.detail.toString())
  }

  /**
   * A member's last direct connection closed (it crashed, stopped, or stopped answering
   * probes): tell the members that hear it only through others. A goodbye needs no notice.
   */
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const target = evt.detail.toString()
    if (!this.running || this.published === undefined || this.init.view.get(target) === undefined) return
    if (this.init.view.hasLeft(target) || this.goneTimers.has(target)) return
    // every member connected to the target lost it at the same moment: wait a random moment so
    // that the first notice (or the target's goodbye, or its reconnection) spares the others
    // theirs, as SWIM's suppression does; one or two notices per departure instead of N
    const since = this.clock()
    const timer = setTimeout(() => {
      this.goneTimers.delete(target)
      const heard = this.goneHeard.get(target)
      if (!this.running || this.init.view.isConnected(target) || this.init.view.hasLeft(target) || (heard !== undefined && heard >= since)) return
      this.publishGone(target)
    }, GONE_DELAY_MIN_MS + Math.random() * GONE_DELAY_SPREAD_MS)
    timer.unref()
    this.goneTimers.set(target, timer)
  }

  private publishGone (target: string): void {
    if (this.published === undefined) return
    const prev = this.seq
    this.seq = this.seqs.next()
    const at = Date.now()
    this.published = { ...this.published, seq: this.seq, at }
    this.lastPublishAt = this.clock()
    this.send({ v: 1, kind: 'gone', peerId: this.published.peerId, seq: this.seq, prev, at, target })
  }

  /** Someone says we are gone while we run: answer with a keep-alive at once (SWIM's refutation). */
  private refute (): void {
    const snap = this.latest
    if (snap === undefined || this.published === undefined) return
    const current = buildSummary(snap, this.identityNow(), this.seq)
    this.publishDelta('alive', summaryChanges(this.published, current, true), current, this.clock())
  }

  /**
   * Pull a peer's full summary, once at a time per peer. A peer that connected while it was
   * still starting may not serve it yet: try again after PULL_RETRY_MS while still connected.
   */
  pull (peerId: string, attempt = 0): void {
    if (this.pulling.has(peerId) || !this.running) return
    this.pulling.add(peerId)
    this.stats.pulls++
    let retry = false
    this.init.pullSummary(peerId).then(summary => {
      const result = this.init.view.offer(summary, peerId, this.clock(), true)
      if (result.accepted && result.isNew) this.init.log.info('peer %s (%s) joined the view', summary.name, peerId)
      if (!result.accepted) this.init.log.debug('pulled summary of %s not taken: %s', peerId, result.reason)
    }, (err: unknown) => {
      this.stats.pullFailures++
      this.init.log.debug('pulling the summary of %s failed: %s', peerId, errorMessage(err))
      retry = attempt < PULL_RETRY_MS.length && this.init.view.isConnected(peerId)
    }).finally(() => {
      this.pulling.delete(peerId)
      if (retry && this.running) setTimeout(() => { this.pull(peerId, attempt + 1) }, PULL_RETRY_MS[attempt]).unref()
    }).catch(() => {})
  }

  private readonly validate = (from: PeerId, msg: Message): TopicValidatorResult => {
    if (msg.type !== 'signed') return this.reject('unsigned', 'unsigned message')
    const author = msg.from.toString()
    let decoded: GossipMessage
    try {
      decoded = decodeGossip(msg.data)
    } catch (err: unknown) {
      return this.reject(author, errorMessage(err))
    }
    const result = this.init.view.offerMessage(decoded, author, this.clock(), from.toString())
    if (result.accepted) {
      if (result.isNew) this.init.log.info('peer %s (%s) joined the view', decoded.kind === 'full' ? decoded.summary.name : author, author)
      if (decoded.kind === 'leave') this.init.log.info('peer %s left the mesh', author)
      if (decoded.kind === 'gone') {
        this.goneHeard.set(decoded.target, this.clock())
        if (this.goneHeard.size > MAX_GONE_HEARD) this.goneHeard.delete(this.goneHeard.keys().next().value ?? '')
        if (decoded.target === this.init.libp2p.peerId.toString()) this.refute()
        else if (this.init.view.reportedGone(decoded.target, this.clock())) this.init.log.info('peer %s reports %s gone', author, decoded.target)
      }
      if (result.needFull) this.pull(author)
      return TopicValidatorResult.Accept
    }
    this.init.onReject?.(author, result.reason)
    this.init.log.debug('ignored %s message from %s: %s', decoded.kind, author, result.reason)
    if (result.notNewer === true) this.pullAfterReset(author)
    if (result.full === true) this.warnFull(result.reason)
    // a replay is ignored (not penalised: gossip may deliver late); a forgery is rejected
    return result.forged ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
  }

  /**
   * A message not newer than what we hold: a late duplicate or a replay, or a member whose
   * numbers went back (a home restored from a backup, a clock-based number from an older version
   * that ran with its clock ahead). Its own answer over a direct request is authoritative (it
   * cannot be replayed: the member answers it now), so ask it, at most once per
   * RESET_PULL_EVERY_MS per member: a replay then costs one request, never a state change.
   */
  private pullAfterReset (author: string): void {
    const now = this.clock()
    const last = this.resetPulls.get(author)
    if (last !== undefined && now - last < RESET_PULL_EVERY_MS) return
    this.resetPulls.delete(author)
    this.resetPulls.set(author, now)
    if (this.resetPulls.size > MAX_GONE_HEARD) this.resetPulls.delete(this.resetPulls.keys().next().value ?? '')
    this.pull(author)
  }

  /** The view is full: say so, at most once per VIEW_FULL_WARN_EVERY_MS (a flood must not flood the log). */
  private warnFull (reason: string): void {
    const now = this.clock()
    if (now - this.lastFullWarnAt < VIEW_FULL_WARN_EVERY_MS) return
    this.lastFullWarnAt = now
    this.init.log.warn('mesh view: %s; members connected to this node still get in, peers heard only through others are refused', reason)
  }

  private reject (author: string, reason: string): TopicValidatorResult {
    this.init.onReject?.(author, reason)
    // one line per author a minute: a member sending bad messages must not flood the log
    const t = this.rejections.take(author, this.clock())
    if (t.report) this.init.log.warn('rejected gossip from %s: %s%s', author, reason, moreSuffix(t.more, author))
    return TopicValidatorResult.Reject
  }
}
