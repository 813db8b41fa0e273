/**
 * Deployments on one node: replication of the specs (a digest gossiped on DEPLOY_TOPIC, the
 * deploy-sync protocol to pull what is missing, a sync with every peer that connects and with
 * one random peer now and then), and the reconciler that runs the copies placed on this host
 * and stops the others. No leader: every node computes the placement from the same specs, the
 * mesh view's live hosts and the digests they gossip (protocols/deploy.ts).
 *
 * A copy is a managed process named `NAME-vVERSION-SLOT`, started through the guarded process
 * control with the spec's author as the requester: this host's trust, start policy and
 * --readonly decide, and the audit log records the decision with the author's peer id.
 */
import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { CONTROL_API } from '../../protocols/control-api.js'
import {
  DEFAULT_DEPLOY_RESTART, DEPLOY_SYNC, copyName, signSpec, specHash, type DeployParams, type DeployResult, decodeDigest, encodeDigest, matchesSelector, parseCopyName, parseSelector, placement, shortHash, slotScore,
  type Acceptance, type DeployDigest, type DeploySpec, type SignedSpec, type DeploymentStatus, type DigestEntry, type HostFacts, type Placed, type ReplicaStatus
} from '../../protocols/deploy.js'
import { DEPLOY_TOPIC } from '../../protocols/ids.js'
import {
  DEPLOY_ANTI_ENTROPY_MS, DEPLOY_DIGEST_DEBOUNCE_MS, DEPLOY_SYNC_DELAY_MS, DEPLOY_SETTLE_MS, DEPLOY_WATCH_MS, MAX_DEPLOY_WATCHED, MAX_DEPLOYMENTS, MAX_SPREAD, MAX_VIEW_PEERS, RECONCILE_TICK_MS
} from '../../protocols/limits.js'
import { DEFAULT_BACKOFF_MAX_MS, DEFAULT_BACKOFF_MS, DEFAULT_MAX_RESTARTS, type ManagedProcess } from '../../protocols/managed.js'
import { ProcmeshError, errorMessage } from '../../protocols/errors.js'
import { handle, type RpcHandler } from '../control/control-server.js'
import type { ProcessControl } from '../host/host-services.js'
import type { Logger } from '../logger.js'
import type { ProcmeshLibp2p } from '../mesh/libp2p.js'
import type { MeshView } from '../mesh/mesh-view.js'
import { servedProtocol, type ServedProtocol } from '../mesh/mesh-protocols.js'
import { moreSuffix, ReportThrottle } from '../report-throttle.js'
import { request } from '../mesh/reqresp.js'
import type { HeldSpec, SpecStore } from './spec-store.js'

/** Whether this host runs a spec, and if not the reason to show and audit. */
export interface HostDecision { a: Acceptance, reason?: string }

export interface DeployInit {
  libp2p: ProcmeshLibp2p
  view: MeshView
  store: SpecStore
  /** this host's name and tags, as its summary carries them */
  self: () => HostFacts
  /** whether the author holds exec in this host's trust (this node itself does) */
  hasExec: (author: string) => boolean
  /** the full check of a spec against this host: author's role, --readonly, start policy */
  decide: (spec: DeploySpec) => HostDecision
  /** process control behind the security guard (roles, policy, audit) */
  control: ProcessControl
  /** audit a refusal to run a spec (once per spec and reason) */
  auditRefusal: (spec: DeploySpec, reason: string) => void
  /** sign with this node's identity key: specs issued here carry this node as author */
  sign: (bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>
  /** probe a member now (the prober's ping: a failure marks it suspect in the view); false: it did not answer */
  probe: (peerId: string) => Promise<boolean>
  log: Logger
}

/** A copy of a deployment among this host's managed records. */
interface Copy { managedId: string, name: string, deployment: string, version: number, slot: number, state: ManagedProcess['state'] }

/** A start that failed is not tried again for this long: a missing command must not become a spawn loop. */
const START_RETRY_MS = 5000
/** One sync per peer at a time; a sync takes at most the protocol's deadline. */
const SYNC_TIMEOUT_MS = 10_000

function nextSeq (prev: number, now: number): number {
  return Math.max(prev + 1, now)
}

export class DeployService {
  private readonly init: DeployInit
  private readonly selfId: string
  private readonly digests = new Map<string, DeployDigest>()
  private seq = 0
  private published = ''
  private own?: DeployDigest
  /** a spec this node has just issued, pushed with the next digest */
  private pushing?: SignedSpec
  private running = false
  private startedAt = 0
  private synced = false
  private tickTimer?: ReturnType<typeof setTimeout>
  private kickTimer?: ReturnType<typeof setTimeout>
  private antiEntropyTimer?: ReturnType<typeof setInterval>
  private readonly syncing = new Set<string>()
  private readonly syncTimers = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly busy = new Set<string>()
  private readonly failures = new Map<string, { at: number, message: string }>()
  private readonly audited = new Set<string>()
  private readonly rejections = new ReportThrottle()
  /** the live hosts of the last pass, to log changes (the bench reads detection times from them) */
  private lastLive = new Map<string, string>()
  /** holders of copies this host would take over, probed every DEPLOY_WATCH_MS */
  private watched = new Set<string>()
  private watchTimer?: ReturnType<typeof setInterval>
  private readonly probing = new Set<string>()
  /** rendezvous scores, cached: a pass places every deployment again */
  private readonly scores = new Map<string, number>()

  constructor (init: DeployInit) {
    this.init = init
    this.selfId = init.libp2p.peerId.toString()
  }

  /** The deploy-sync protocol, for the node's protocol table. */
  servedProtocol (): ServedProtocol {
    return servedProtocol(DEPLOY_SYNC, async (req, ctx) => {
      const remote = ctx.remotePeer.toString()
      const have = new Set(req.have)
      // the asker holds specs we lack: pull them back (unless a push brings them meanwhile)
      const lacking = (): boolean => req.have.some(h => !this.init.store.has(h))
      if (lacking()) this.syncSoon(remote, lacking)
      return {
        specs: this.init.store.all().filter(s => !have.has(s.hash)).map(({ spec, sig }) => ({ spec, sig })),
        digest: this.own ?? null
      }
    })
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.startedAt = Date.now()
    const { libp2p } = this.init
    libp2p.services.pubsub.topicValidators.set(DEPLOY_TOPIC, this.validate)
    libp2p.services.pubsub.subscribe(DEPLOY_TOPIC)
    libp2p.addEventListener('peer:connect', this.onConnect)
    // first pass at once: copies adopted by the supervisor are counted before anyone asks
    this.reconcile()
    this.scheduleTick()
    this.antiEntropyTimer = setInterval(() => { this.antiEntropy() }, DEPLOY_ANTI_ENTROPY_MS)
    this.antiEntropyTimer.unref()
    this.watchTimer = setInterval(() => { this.watch() }, DEPLOY_WATCH_MS)
    this.watchTimer.unref()
    for (const peer of libp2p.getPeers()) this.sync(peer.toString())
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    clearTimeout(this.tickTimer)
    clearTimeout(this.kickTimer)
    clearInterval(this.antiEntropyTimer)
    clearInterval(this.watchTimer)
    for (const t of this.syncTimers.values()) clearTimeout(t)
    this.syncTimers.clear()
    const { libp2p } = this.init
    libp2p.removeEventListener('peer:connect', this.onConnect)
    libp2p.services.pubsub.unsubscribe(DEPLOY_TOPIC)
    libp2p.services.pubsub.topicValidators.delete(DEPLOY_TOPIC)
  }

  // ---- replication ----

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    this.sync(evt.detail.toString())
  }

  private antiEntropy (): void {
    const peers = this.init.libp2p.getPeers()
    if (peers.length === 0) return
    this.sync(peers[Math.floor(Math.random() * peers.length)].toString())
  }

  /** Send what we hold to `peerId`, take the specs it answers and its digest. */
  sync (peerId: string): void {
    if (!this.running || peerId === this.selfId || this.syncing.has(peerId)) return
    this.syncing.add(peerId)
    const run = async (): Promise<void> => {
      const res = await request(this.init.libp2p, peerIdFromString(peerId), DEPLOY_SYNC, { type: 'deploy-sync', have: this.init.store.hashes() }, { timeoutMs: SYNC_TIMEOUT_MS })
      let added = 0
      for (const [i, s] of res.specs.entries()) {
        try {
          if (await this.init.store.offer(s, `specs[${i}]`) === 'added') added++
        } catch (err: unknown) {
          this.refused(peerId, 'refused a spec', `: ${errorMessage(err)}`)
        }
      }
      if (res.digest !== null) this.takeDigest(res.digest, peerId)
      if (added > 0) this.init.log.info('deploy: %d spec(s) from %s', added, peerId)
      this.synced = true
      this.kick()
    }
    run().catch((err: unknown) => {
      // an answer that breaks the protocol (a malformed or oversized spec fails the whole answer)
      // is the peer's fault and the operator's business; an older node without deployments or a
      // peer that went away is not: the next connect or digest retries
      if (err instanceof ProcmeshError && (err.code === 'PROTOCOL_ERROR' || err.code === 'FRAME_ERROR')) this.refused(peerId, 'refused the deploy-sync answer', `: ${errorMessage(err)}`)
      else this.init.log.debug('deploy: sync with %s failed: %s', peerId, errorMessage(err))
    }).finally(() => { this.syncing.delete(peerId) })
  }

  /**
   * One warning a minute per peer and kind of refusal: a member sending bad digests or specs
   * must not flood the log (as for summaries, issue 17 finding 14). The kind is the reason with
   * numbers and peer ids blanked, so a sender cannot make every message a new kind.
   */
  private refused (peerId: string, what: string, detail: string): void {
    const kind = `${what}${detail}`.replace(/\b(12D3Koo|Qm)[1-9A-HJ-NP-Za-km-z]+/g, 'P').replace(/\d+/g, 'N')
    const t = this.rejections.take(`${peerId}\n${kind}`, Date.now())
    if (t.report) this.init.log.warn('deploy: %s from %s%s%s', what, peerId, detail, moreSuffix(t.more, peerId))
  }

  /** Keep the newest digest of each peer; true when it is new. */
  private takeDigest (d: DeployDigest, from: string): boolean {
    if (d.peerId !== from || from === this.selfId) return false
    const prev = this.digests.get(from)
    if (prev !== undefined && d.seq <= prev.seq) return false
    this.digests.set(from, d)
    // digests of hosts the view no longer holds go, so fresh identities cannot grow the map without bound
    if (this.digests.size > MAX_VIEW_PEERS) for (const id of this.digests.keys()) if (this.init.view.get(id) === undefined) this.digests.delete(id)
    return true
  }

  private readonly validate = (_from: PeerId, msg: Message): TopicValidatorResult => {
    if (msg.type !== 'signed') return TopicValidatorResult.Reject
    const author = msg.from.toString()
    let d: DeployDigest
    try {
      d = decodeDigest(msg.data)
    } catch (err: unknown) {
      this.refused(author, 'rejected a digest', `: ${errorMessage(err)}`)
      return TopicValidatorResult.Reject
    }
    // a digest describes its signer only: nobody speaks for another host
    if (d.peerId !== author) {
      this.refused(author, 'rejected a digest', ` describing ${d.peerId}`)
      return TopicValidatorResult.Reject
    }
    if (author === this.selfId) return TopicValidatorResult.Ignore
    if (!this.takeDigest(d, author)) return TopicValidatorResult.Ignore
    if (d.spec !== undefined) this.takePushed(d.spec, d.index, author)
    else if (d.index !== this.init.store.index()) this.syncSoon(author, () => this.indexDiffers(author))
    this.kick()
    return TopicValidatorResult.Accept
  }

  /**
   * A spec its author pushed with its digest: checked and stored like a pulled one, then run
   * at once; a pull from the author follows only if the sets still differ.
   */
  private takePushed (spec: SignedSpec, index: string, author: string): void {
    this.init.store.offer(spec, 'digest.spec').then(outcome => {
      if (outcome === 'added') this.init.log.info('deploy: %s version %d from %s', spec.spec.name, spec.spec.version, author)
    }).catch((err: unknown) => {
      this.refused(author, 'refused a spec', `: ${errorMessage(err)}`)
    }).finally(() => {
      if (index !== this.init.store.index()) this.syncSoon(author, () => this.indexDiffers(author))
      this.kick()
    })
  }

  /** Whether the newest digest of `peerId` names another set of specs than this node holds. */
  private indexDiffers (peerId: string): boolean {
    return this.digests.get(peerId)?.index !== this.init.store.index()
  }

  /**
   * Sync with `peerId` after DEPLOY_SYNC_DELAY_MS if `stillNeeded` then. After a deploy every
   * node's index changes at once, and a node that publishes its new digest before another has
   * stored the pushed spec would otherwise make it pull: at 20 hosts up to 19 x 20 syncs (each
   * answered with the spec) competed with the copies' starts (2-6 s to start instead of 0.3 s).
   */
  private syncSoon (peerId: string, stillNeeded: () => boolean): void {
    if (!this.running || this.syncTimers.has(peerId) || this.syncing.has(peerId)) return
    // bounded: one timer per peer that sent a digest or a sync, at most the view's size
    if (this.syncTimers.size >= MAX_VIEW_PEERS) return
    const timer = setTimeout(() => {
      this.syncTimers.delete(peerId)
      if (stillNeeded()) this.sync(peerId)
    }, DEPLOY_SYNC_DELAY_MS)
    timer.unref()
    this.syncTimers.set(peerId, timer)
  }

  // ---- what this host follows ----

  /** The spec this host follows for a name (the newest it trusts) and its decision, or undefined when undeployed. */
  private followed (name: string): { held: HeldSpec, decision: HostDecision } | undefined {
    const { store } = this.init
    const trusted = store.winner(name, this.init.hasExec)
    if (trusted !== undefined) return trusted.spec.deleted ? undefined : { held: trusted, decision: this.init.decide(trusted.spec) }
    const any = store.winner(name)
    if (any === undefined || any.spec.deleted) return undefined
    return { held: any, decision: this.init.decide(any.spec) }
  }

  private copies (): Map<string, Copy[]> {
    const out = new Map<string, Copy[]>()
    for (const r of this.init.control.managed()) {
      const p = parseCopyName(r.name)
      if (p === undefined || r.name === null) continue
      const list = out.get(p.deployment) ?? []
      list.push({ managedId: r.managedId, name: r.name, deployment: p.deployment, version: p.version, slot: p.slot, state: r.state })
      out.set(p.deployment, list)
    }
    return out
  }

  /** Live hosts (online in the view), this one included. */
  private liveHosts (): HostFacts[] {
    const out: HostFacts[] = []
    for (const e of this.init.view.entries(Date.now())) {
      if (e.self) continue
      if (e.status === 'online' && this.digests.has(e.peerId)) out.push({ peerId: e.peerId, name: e.name, tags: e.tags })
    }
    out.push(this.init.self())
    return out
  }

  private entryOf (peerId: string, name: string): DigestEntry | undefined {
    return this.digests.get(peerId)?.entries.find(e => e.n === name)
  }

  /**
   * Whether a host runs `held` when placed: this host decides itself; another says so in its
   * digest. A host that has not spoken of this spec yet is assumed to (it has just not heard of
   * it): it corrects that within a digest, and assuming otherwise would put every new spec on
   * the few hosts that heard first.
   */
  private accepts (host: HostFacts, held: HeldSpec, selfDecision: HostDecision): boolean {
    if (host.peerId === this.selfId) return selfDecision.a === 'run'
    const e = this.entryOf(host.peerId, held.spec.name)
    if (e !== undefined && e.h === shortHash(held.hash)) return e.a === 'run'
    return true
  }

  private place (held: HeldSpec, selfDecision: HostDecision, live: HostFacts[]): { placed: Placed[], matching: HostFacts[], candidates: HostFacts[] } {
    const sel = parseSelector(held.spec.selector)
    const matching = live.filter(h => matchesSelector(sel, h))
    const candidates = matching.filter(h => this.accepts(h, held, selfDecision))
    return { placed: placement(held.spec, candidates.map(h => h.peerId), this.score), matching, candidates }
  }

  private readonly score = (name: string, peerId: string, slot: number): number => {
    const key = `${name}\n${peerId}\n${slot}`
    let s = this.scores.get(key)
    if (s === undefined) {
      // bounded: deployments x hosts x spread of a live mesh stay far below it
      if (this.scores.size >= 100_000) this.scores.clear()
      s = slotScore(name, peerId, slot)
      this.scores.set(key, s)
    }
    return s
  }

  /**
   * The holders whose copies this host would take if they were lost (it is not placed, and the
   * placement without the holder puts a copy here). `every` has none: a lost host's copy does
   * not move.
   */
  private successorOf (held: HeldSpec, placed: Placed[], candidates: HostFacts[]): string[] {
    if (held.spec.replicas === 'every' || placed.some(p => p.peerId === this.selfId) || !candidates.some(h => h.peerId === this.selfId)) return []
    const out: string[] = []
    for (const holder of new Set(placed.map(p => p.peerId))) {
      const without = placement(held.spec, candidates.filter(h => h.peerId !== holder).map(h => h.peerId), this.score)
      if (without.some(p => p.peerId === this.selfId)) out.push(holder)
    }
    return out
  }

  /** Ping each watched holder (one probe in flight per holder); a failure shows in the view at once. */
  private watch (): void {
    for (const peerId of this.watched) {
      if (this.probing.has(peerId)) continue
      this.probing.add(peerId)
      this.init.probe(peerId).then(ok => {
        if (!ok) {
          this.init.log.info('deploy: %s, holding copies this host would take, did not answer a probe', peerId)
          this.kick()
        }
      }).catch((err: unknown) => {
        this.init.log.debug('deploy: probe of %s failed: %s', peerId, errorMessage(err))
      }).finally(() => { this.probing.delete(peerId) })
    }
  }

  /** Copies of `held` another host reports running, or undefined when it has not reported on this spec. */
  private reportedRunning (peerId: string, held: HeldSpec): number | undefined {
    const e = this.entryOf(peerId, held.spec.name)
    return e !== undefined && e.h === shortHash(held.hash) ? e.r : undefined
  }

  // ---- the reconciler ----

  /** Run a pass soon (a spec, a digest or a copy changed). */
  kick (): void {
    if (!this.running || this.kickTimer !== undefined) return
    this.kickTimer = setTimeout(() => {
      this.kickTimer = undefined
      this.reconcile()
    }, DEPLOY_DIGEST_DEBOUNCE_MS)
  }

  private scheduleTick (): void {
    if (!this.running) return
    this.tickTimer = setTimeout(() => {
      this.reconcile()
      this.scheduleTick()
    }, RECONCILE_TICK_MS)
  }

  private reconcile (): void {
    if (!this.running) return
    try {
      const copies = this.copies()
      const live = this.liveHosts()
      this.noteLive(live)
      const watch = new Set<string>()
      for (const name of this.init.store.names()) {
        for (const holder of this.reconcileOne(name, copies.get(name) ?? [], live)) if (watch.size < MAX_DEPLOY_WATCHED) watch.add(holder)
      }
      this.watched = watch
      this.publishDigest(copies)
    } catch (err: unknown) {
      this.init.log.error('deploy: reconcile failed: %s', errorMessage(err))
    }
  }

  private noteLive (live: HostFacts[]): void {
    const now = new Map(live.map(h => [h.peerId, h.name]))
    const lost = [...this.lastLive].filter(([id]) => !now.has(id)).map(([, n]) => n)
    const added = [...now].filter(([id]) => !this.lastLive.has(id)).map(([, n]) => n)
    this.lastLive = now
    if (lost.length > 0 || added.length > 0) {
      this.init.log.info('deploy: live hosts %d%s%s', now.size, lost.length > 0 ? `, lost ${lost.join(' ')}` : '', added.length > 0 ? `, new ${added.join(' ')}` : '')
    }
  }

  /** One deployment's pass; returns the holders this host should watch (successorOf). */
  private reconcileOne (name: string, copies: Copy[], live: HostFacts[]): string[] {
    const f = this.followed(name)
    if (f === undefined) {
      // undeployed (or only an untrusted author speaks for the name): every copy goes
      for (const c of copies) this.removeCopy(c, 'undeployed')
      return []
    }
    const { held, decision } = f
    const spec = held.spec
    if (decision.a !== 'run') {
      if (decision.reason !== undefined && !this.audited.has(held.hash)) {
        this.audited.add(held.hash)
        this.init.auditRefusal(spec, decision.reason)
      }
      for (const c of copies) this.removeCopy(c, decision.reason ?? 'not placed here')
      return []
    }
    const { placed, candidates } = this.place(held, decision, live)
    const share = (peerId: string): number => placed.filter(p => p.peerId === peerId).length
    const mine = placed.filter(p => p.peerId === this.selfId)
    const current = copies.filter(c => c.version === spec.version)
    const runningCurrent = (slot: number): boolean => current.some(c => c.slot === slot && c.state === 'running')
    const myShareRunning = mine.every(s => runningCurrent(s.slot))
    const allHaveShare = myShareRunning && [...new Set(placed.map(p => p.peerId))].every(id =>
      id === this.selfId || (this.reportedRunning(id, held) ?? 0) >= share(id))

    for (const slot of mine) {
      if (current.some(c => c.slot === slot.slot)) continue
      if (this.mayStart(held, placed, copies, share)) this.startCopy(spec, slot.slot)
    }
    for (const c of copies) {
      const placedHere = c.version === spec.version && mine.some(s => s.slot === c.slot)
      if (placedHere) continue
      if (c.state !== 'running') { this.removeCopy(c, 'not placed here (and not running)'); continue }
      // start new, then stop old: an old copy goes once this host's new ones run (or, on a host
      // no longer placed, once every placed host runs its share); so does a surplus copy
      const done = c.version !== spec.version && mine.length > 0 ? myShareRunning : allHaveShare
      if (done) this.removeCopy(c, c.version !== spec.version ? `replaced by version ${spec.version}` : 'placed on another host')
    }
    return this.successorOf(held, placed, candidates)
  }

  /**
   * Whether this host may start a copy of `held` now. It waits for its first sync after a start
   * (alone in its view it would place everything on itself). A host replacing old copies (a
   * roll) waits until every host ranked before it in the placement that had old copies runs its
   * new ones: one host at a time.
   */
  private mayStart (held: HeldSpec, placed: Placed[], copies: Copy[], share: (peerId: string) => number): boolean {
    if (!this.synced && Date.now() - this.startedAt < DEPLOY_SETTLE_MS) return false
    const hasOld = copies.some(c => c.version !== held.spec.version && c.state === 'running')
    if (!hasOld) return true
    const myRank = Math.min(...placed.filter(p => p.peerId === this.selfId).map(p => p.rank))
    for (const p of placed) {
      if (p.rank >= myRank || p.peerId === this.selfId) continue
      const e = this.entryOf(p.peerId, held.spec.name)
      if (e === undefined) continue
      if (e.h === shortHash(held.hash)) {
        if (e.o > 0 && e.r < share(p.peerId)) return false
      } else if (e.r + e.o > 0) {
        return false
      }
    }
    return true
  }

  private startCopy (spec: DeploySpec, slot: number): void {
    const name = copyName(spec.name, spec.version, slot)
    if (this.busy.has(name)) return
    const failed = this.failures.get(name)
    if (failed !== undefined && Date.now() - failed.at < START_RETRY_MS) return
    this.busy.add(name)
    this.init.log.info('deploy: placed %s here, starting it', name)
    const requestId = `deploy-${randomBytes(12).toString('hex')}`
    this.init.control.start({
      type: 'start',
      requestId,
      argv: spec.argv,
      ...(spec.cwd !== null ? { cwd: spec.cwd } : {}),
      ...(Object.keys(spec.env).length > 0 ? { env: spec.env } : {}),
      name,
      policy: { restart: spec.restart, maxRestarts: DEFAULT_MAX_RESTARTS, backoffMs: DEFAULT_BACKOFF_MS, backoffMaxMs: DEFAULT_BACKOFF_MAX_MS }
    }, spec.author).then(r => {
      this.failures.delete(name)
      this.init.log.info('deploy: started %s (pid %d) of deployment %s version %d', name, r.pid, spec.name, spec.version)
    }).catch((err: unknown) => {
      this.failures.set(name, { at: Date.now(), message: errorMessage(err) })
      this.init.log.warn('deploy: %s not started: %s', name, errorMessage(err))
    }).finally(() => {
      this.busy.delete(name)
      this.kick()
    })
  }

  private removeCopy (c: Copy, why: string): void {
    if (this.busy.has(c.name)) return
    this.busy.add(c.name)
    this.init.control.remove({ type: 'remove', ref: c.managedId }, this.selfId).then(r => {
      this.init.log.info('deploy: removed %s (%s)%s', c.name, why, r.stopped ? ', stopped it' : '')
    }).catch((err: unknown) => {
      this.init.log.warn('deploy: could not remove %s: %s', c.name, errorMessage(err))
    }).finally(() => {
      this.busy.delete(c.name)
      this.kick()
    })
  }

  // ---- the digest ----

  private digestEntries (copies: Map<string, Copy[]>): DigestEntry[] {
    const entries: DigestEntry[] = []
    for (const name of this.init.store.names()) {
      const f = this.followed(name)
      if (f === undefined) continue
      const list = copies.get(name) ?? []
      const r = list.filter(c => c.version === f.held.spec.version && c.state === 'running').length
      const o = list.filter(c => c.version !== f.held.spec.version && c.state === 'running').length
      entries.push({ n: name, h: shortHash(f.held.hash), a: f.decision.a, r: Math.min(r, MAX_SPREAD * 2), o: Math.min(o, MAX_SPREAD * 4) })
    }
    return entries.slice(0, MAX_DEPLOYMENTS)
  }

  private publishDigest (copies: Map<string, Copy[]>): void {
    const index = this.init.store.index()
    const entries = this.digestEntries(copies)
    const content = JSON.stringify([index, entries])
    if (content === this.published) return
    this.seq = nextSeq(this.seq, Date.now())
    const digest: DeployDigest = { v: 1, peerId: this.selfId, seq: this.seq, index, entries }
    const pushing = this.pushing
    this.pushing = undefined
    let bytes: Uint8Array
    try {
      bytes = encodeDigest(pushing !== undefined ? { ...digest, spec: pushing } : digest)
    } catch (err: unknown) {
      this.init.log.error('deploy: digest not published: %s', errorMessage(err))
      return
    }
    this.own = digest
    this.published = content
    this.init.libp2p.services.pubsub.publish(DEPLOY_TOPIC, bytes).catch((err: unknown) => {
      this.init.log.debug('deploy: publishing the digest failed: %s', errorMessage(err))
    })
  }

  // ---- deploy and undeploy (the local control API) ----

  /** Sign a new version of a deployment with this node's key and spread it. */
  async deploy (p: DeployParams): Promise<DeployResult> {
    const { store } = this.init
    const live = store.names().filter(n => { const w = store.winner(n); return w !== undefined && !w.spec.deleted })
    if (!live.includes(p.name) && live.length >= MAX_DEPLOYMENTS) {
      throw new ProcmeshError('REFUSED', `the mesh holds ${live.length} deployments, the most it gossips (MAX_DEPLOYMENTS); undeploy one first`)
    }
    return await this.issue({
      v: 1, name: p.name, version: store.maxVersion(p.name) + 1, deleted: false, argv: p.argv, cwd: p.cwd ?? null, env: p.env ?? {},
      selector: p.selector, replicas: p.replicas, spread: p.spread ?? 1, restart: p.restart ?? DEFAULT_DEPLOY_RESTART, author: this.selfId, issuedAt: Date.now()
    })
  }

  /** A tombstone one version up: every copy stops, on every host that trusts this node. */
  async undeploy (name: string): Promise<DeployResult> {
    const w = this.init.store.winner(name)
    if (w === undefined || w.spec.deleted) throw new ProcmeshError('NOT_FOUND', `no deployment ${name} (procmesh deployments lists them)`)
    return await this.issue({
      v: 1, name, version: this.init.store.maxVersion(name) + 1, deleted: true, argv: [], cwd: null, env: {},
      selector: 'all', replicas: 0, spread: 1, restart: 'no', author: this.selfId, issuedAt: Date.now()
    })
  }

  private async issue (spec: DeploySpec): Promise<DeployResult> {
    const signed = await signSpec(spec, this.init.sign)
    // the same validation a peer applies: what this node signs, every node accepts
    const outcome = await this.init.store.offer(signed)
    if (outcome === 'superseded') throw new ProcmeshError('SERVER_ERROR', `version ${spec.version} of ${spec.name} was superseded at once`)
    this.init.log.info('deploy: issued %s version %d%s', spec.name, spec.version, spec.deleted ? ' (undeploy)' : '')
    await this.init.store.flushed()
    // the next digest carries the spec itself: every node gets it with the digest, no pull
    this.pushing = signed
    this.reconcile()
    return { name: spec.name, version: spec.version, hash: specHash(spec), author: spec.author, deleted: spec.deleted }
  }

  registerMethods (handlers: Map<string, RpcHandler>): void {
    handle(handlers, CONTROL_API.deploy, async p => await this.deploy(p))
    handle(handlers, CONTROL_API.undeploy, async p => await this.undeploy(p.name))
    handle(handlers, CONTROL_API.deployments, async p => this.status(p.name))
  }

  // ---- what `procmesh deployments` shows ----

  status (name?: string): DeploymentStatus[] {
    const out: DeploymentStatus[] = []
    const copies = this.copies()
    const live = this.liveHosts()
    const nameOf = (peerId: string): string => live.find(h => h.peerId === peerId)?.name ?? this.init.view.get(peerId)?.name ?? peerId
    for (const n of this.init.store.names()) {
      if (name !== undefined && n !== name) continue
      const held = this.init.store.winner(n, this.init.hasExec) ?? this.init.store.winner(n)
      if (held === undefined || held.spec.deleted) continue
      const spec = held.spec
      const decision = this.init.decide(spec)
      const { placed, matching } = this.place(held, decision, live)
      const mine = copies.get(n) ?? []
      const short = shortHash(held.hash)
      const replicas: ReplicaStatus[] = []
      for (const p of placed) {
        const copy = copyName(n, spec.version, p.slot)
        let state: ReplicaStatus['state']
        if (p.peerId === this.selfId) {
          state = mine.find(c => c.name === copy)?.state ?? 'starting'
        } else {
          const e = this.entryOf(p.peerId, n)
          const before = placed.filter(q => q.peerId === p.peerId && q.slot <= p.slot).length
          state = e === undefined || e.h !== short ? 'unknown' : e.r >= before ? 'running' : 'starting'
        }
        replicas.push({ host: nameOf(p.peerId), peerId: p.peerId, slot: p.slot, copy, state })
      }
      let runningCount = 0
      let old = 0
      for (const h of live) {
        if (h.peerId === this.selfId) {
          runningCount += mine.filter(c => c.version === spec.version && c.state === 'running').length
          old += mine.filter(c => c.version !== spec.version && c.state === 'running').length
          continue
        }
        const e = this.entryOf(h.peerId, n)
        if (e === undefined) continue
        if (e.h === short) runningCount += e.r
        old += e.o + (e.h !== short ? e.r : 0)
      }
      const refusing = matching.filter(h => !this.accepts(h, held, decision))
      const desired = spec.replicas === 'every' ? placed.length : spec.replicas
      const problems: string[] = []
      if (matching.length === 0) problems.push(`no live host matches ${spec.selector}`)
      else if (spec.replicas !== 'every' && placed.length < spec.replicas) {
        problems.push(`only ${placed.length} of ${spec.replicas} replicas can be placed: ${matching.length} live host(s) match ${spec.selector}` +
          `${refusing.length > 0 ? `, ${refusing.length} of them refuse the spec` : ''}${spec.spread > 1 ? `, at most ${spec.spread} per host` : ', at most one per host'}`)
      }
      for (const h of refusing) {
        const why = h.peerId === this.selfId ? decision.reason ?? decision.a : acceptanceText(this.entryOf(h.peerId, n)?.a ?? 'no-exec')
        problems.push(`${h.name} refuses it: ${why}`)
      }
      if (old > 0) problems.push(`rolling out version ${spec.version}: ${old} copy(ies) of an older version still running`)
      for (const c of replicas) {
        if (c.peerId !== this.selfId) continue
        const failed = this.failures.get(c.copy)
        if (failed !== undefined) problems.push(`${c.host}: ${c.copy} did not start: ${failed.message}`)
      }
      out.push({
        name: n,
        version: spec.version,
        hash: held.hash,
        author: spec.author,
        issuedAt: spec.issuedAt,
        argv: spec.argv,
        selector: spec.selector,
        replicas: spec.replicas,
        spread: spec.spread,
        restart: spec.restart,
        desired,
        running: runningCount,
        old,
        placed: replicas,
        problems,
        here: decision.a
      })
    }
    if (name !== undefined && out.length === 0) throw new ProcmeshError('NOT_FOUND', `no deployment ${name} (procmesh deployments lists them)`)
    return out
  }
}

/** What a host's acceptance code means, in words. */
export function acceptanceText (a: Acceptance): string {
  switch (a) {
    case 'run': return 'runs it'
    case 'no-match': return 'the selector does not name it'
    case 'no-exec': return "the author lacks the exec role in its trust"
    case 'policy': return 'its start policy refuses the command'
    case 'readonly': return 'it is read-only (--readonly)'
  }
}
