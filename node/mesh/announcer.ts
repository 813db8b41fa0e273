/**
 * The gossip announcer: samples the host every interval, publishes a signed summary
 * on the mesh topic (and at once when a peer subscribes), and validates the
 * summaries of others into the mesh view.
 */
import { TopicValidatorResult, type Message, type SubscriptionChangeData } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { errorMessage } from '../../protocols/errors.js'
import { SUMMARY_TOPIC } from '../../protocols/ids.js'
import { decodeSummary, encodeSummary } from '../../protocols/summary.js'
import type { Snapshot, Summary } from '../../protocols/types.js'
import type { ProcmeshLibp2p } from './libp2p.js'
import type { Logger } from '../logger.js'
import type { MeshView } from './mesh-view.js'
import { buildSummary, nextSeq, type SummaryIdentity } from './summary-builder.js'

export interface Sampler { sample: () => Promise<Snapshot> }

/** Repeats of the greeting to a newly subscribed peer (ms after its subscription). */
export const GREET_RETRY_MS = [100, 400]

export interface AnnouncerInit {
  libp2p: ProcmeshLibp2p
  view: MeshView
  sampler: Sampler
  intervalMs: number
  identity: () => SummaryIdentity
  log: Logger
  /** called with every fresh snapshot (history ring, list protocol) */
  onSnapshot?: (snap: Snapshot) => void
  /** called for every rejected summary, with the author and reason (audit, tests) */
  onReject?: (author: string, reason: string) => void
}

export class SummaryAnnouncer {
  private readonly init: AnnouncerInit
  private timer?: NodeJS.Timeout
  private running = false
  private seq = 0
  private latest?: Snapshot
  private ticking?: Promise<void>
  private readonly greetTimers = new Set<NodeJS.Timeout>()
  private greetOnHeartbeats = 0

  constructor (init: AnnouncerInit) {
    this.init = init
  }

  get latestSnapshot (): Snapshot | undefined {
    return this.latest
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    const { pubsub } = this.init.libp2p.services
    pubsub.topicValidators.set(SUMMARY_TOPIC, this.validate)
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    pubsub.addEventListener('gossipsub:heartbeat', this.onHeartbeat)
    pubsub.subscribe(SUMMARY_TOPIC)
    await this.tick()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    clearTimeout(this.timer)
    for (const t of this.greetTimers) clearTimeout(t)
    this.greetTimers.clear()
    const { pubsub } = this.init.libp2p.services
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    pubsub.removeEventListener('gossipsub:heartbeat', this.onHeartbeat)
    pubsub.topicValidators.delete(SUMMARY_TOPIC)
    await this.ticking
  }

  /** Sample, publish, and schedule the next tick (a chain, so ticks never overlap). */
  private async tick (): Promise<void> {
    const run = async (): Promise<void> => {
      try {
        const snap = await this.init.sampler.sample()
        this.latest = snap
        this.init.onSnapshot?.(snap)
        this.publish()
      } catch (err: unknown) {
        this.init.log.warn('sampling failed: %s', errorMessage(err))
      }
    }
    this.ticking = run()
    await this.ticking
    if (this.running) {
      this.timer = setTimeout(() => { this.tick().catch((err: unknown) => { this.init.log.error('tick failed: %s', errorMessage(err)) }) }, this.init.intervalMs)
    }
  }

  /** Publish a summary of the latest snapshot with a fresh sequence number. */
  private publish (): void {
    if (this.latest === undefined || !this.running) return
    const now = Date.now()
    this.seq = nextSeq(this.seq, now)
    const summary: Summary = buildSummary(this.latest, this.init.identity(), this.seq)
    this.init.view.setSelf(summary, now)
    this.init.libp2p.services.pubsub.publish(SUMMARY_TOPIC, encodeSummary(summary)).catch((err: unknown) => {
      this.init.log.debug('publish failed: %s', errorMessage(err))
    })
  }

  private readonly onSubscriptionChange = (evt: CustomEvent<SubscriptionChangeData>): void => {
    // messages published before a peer subscribed never reach it: greet it now. Its
    // subscription can arrive before our outbound gossip stream to it is open (a publish then
    // skips it silently), so greet again shortly after; newer sequence numbers make repeats harmless.
    if (!evt.detail.subscriptions.some(s => s.topic === SUMMARY_TOPIC && s.subscribe)) return
    this.publish()
    // and on the next two gossipsub heartbeats (1 s apart), which on a loaded machine can come
    // long after the fixed retries: by then the outbound stream exists
    this.greetOnHeartbeats = 2
    for (const delay of GREET_RETRY_MS) {
      const timer = setTimeout(() => { this.greetTimers.delete(timer); this.publish() }, delay)
      timer.unref()
      this.greetTimers.add(timer)
    }
  }

  private readonly onHeartbeat = (): void => {
    if (this.greetOnHeartbeats <= 0) return
    this.greetOnHeartbeats--
    this.publish()
  }

  private readonly validate = (_from: PeerId, msg: Message): TopicValidatorResult => {
    if (msg.type !== 'signed') return this.reject('unsigned', 'unsigned summary')
    const author = msg.from.toString()
    let summary: Summary
    try {
      summary = decodeSummary(msg.data)
    } catch (err: unknown) {
      return this.reject(author, errorMessage(err))
    }
    const result = this.init.view.offer(summary, author, Date.now())
    if (result.accepted) {
      if (result.isNew) this.init.log.info('peer %s (%s) joined the view', summary.name, author)
      return TopicValidatorResult.Accept
    }
    this.init.onReject?.(author, result.reason)
    this.init.log.debug('ignored summary from %s: %s', author, result.reason)
    // a replay is ignored (not penalised: gossip may deliver late); a forgery is rejected
    return summary.peerId === author ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
  }

  private reject (author: string, reason: string): TopicValidatorResult {
    this.init.onReject?.(author, reason)
    this.init.log.warn('rejected summary from %s: %s', author, reason)
    return TopicValidatorResult.Reject
  }
}
