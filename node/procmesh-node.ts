/**
 * The procmesh node: identity, libp2p, collector, gossip, mesh view and the local
 * control API, started and stopped as a group.
 */
import { hostname } from 'node:os'
import { join } from 'node:path'
import { writeFile, unlink } from 'node:fs/promises'
import { CONTROL_API } from '../protocols/control-api.js'
import { DEFAULT_INTERVAL_MS } from '../protocols/limits.js'
import type { IdInfo, PeerEntry, Snapshot } from '../protocols/types.js'
import { SummaryAnnouncer, type AnnouncerStats } from './mesh/announcer.js'
import { MdnsPacer } from './mesh/mdns-pacer.js'
import { LivenessProber } from './mesh/prober.js'
import { request } from './mesh/reqresp.js'
import { HISTORY, SUMMARY } from '../protocols/messages.js'
import { LiveFigures } from './mesh/live-figures.js'
import type { PeerId } from '@libp2p/interface'
import { errorMessage } from '../protocols/errors.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { ProcessCollector } from './host/collector.js'
import { ControlServer, handle, type RpcHandler } from './control/control-server.js'
import { PeerDialer } from './mesh/dialer.js'
import { GossipHealer } from './mesh/gossip-healer.js'
import { monoNow, wallOf } from './mesh/clock.js'
import { SeqLease } from './mesh/seq-lease.js'
import { ReachKeeper, announceOrder, announcedRelayAddrs } from './mesh/reach.js'
import { MAX_SUMMARY_ADDRS } from '../protocols/limits.js'
import { ensureHome, homePaths, type HomePaths } from './setup/home.js'
import { assertOwnHome } from './security/home-guard.js'
import { loadOrCreateIdentity } from './security/identity.js'
import { createProcmeshLibp2p, resolveListen, type ProcmeshLibp2p } from './mesh/libp2p.js'
import type { Logger } from './logger.js'
import { MeshView } from './mesh/mesh-view.js'
import { registerTargetMethods } from './control/control-methods.js'
import { HistoryRing } from './host/history.js'
import { HistoryRecorder } from './host/history/recorder.js'
import { DEFAULT_HISTORY_MAX_BYTES, DEFAULT_HISTORY_RETENTION_MS, HistoryStore } from './host/history/store.js'
import { HostServices, type ProcessControl } from './host/host-services.js'
import { MeshProtocols } from './mesh/mesh-protocols.js'
import { openDeployService } from './deploy/deploy-node.js'
import type { Authorizer } from './mesh/reqresp.js'
import { SharedSampler } from './host/sampler.js'
import { NodeSecurity } from './security/security.js'
import { Supervisor, type SupervisorEvent } from './host/supervisor.js'
import { createProcReaders, stopProcess } from './host/process-control.js'
import { ProcmeshError } from '../protocols/errors.js'
import type { Thresholds } from '../protocols/thresholds.js'

export interface NodeConfig {
  home: string
  name: string
  tags: Record<string, string>
  listen: string[]
  bootstrap: string[]
  mdns: boolean
  intervalMs: number
  readonly: boolean
  /** environment every started process begins with (PATH, resolved at the CLI edge) */
  spawnEnv: Readonly<Record<string, string>>
  /** how long this node keeps its durable history on disk (ms; --history); 0 records nothing */
  historyRetentionMs: number
  /** size cap of the durable history on disk (bytes) */
  historyMaxBytes: number
  /** start policy file (--policy); default: policy.json in the home when it exists */
  policyFile?: string
  /** the limits this host marks itself and its processes with (--alert; default Glances') */
  thresholds?: Thresholds
}

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001']
/** Peer-store tag of peers the trust file knows: libp2p's pruner closes lower-tagged connections first. */
const KNOWN_PEER_TAG = 'procmesh-known'
const KNOWN_PEER_TAG_VALUE = 100

export function defaultNodeConfig (home: string): NodeConfig {
  return { home, name: hostname(), tags: {}, listen: DEFAULT_LISTEN, bootstrap: [], mdns: true, intervalMs: DEFAULT_INTERVAL_MS, readonly: false, historyRetentionMs: DEFAULT_HISTORY_RETENTION_MS, historyMaxBytes: DEFAULT_HISTORY_MAX_BYTES, spawnEnv: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } }
}

/** A part of the node with a lifecycle; parts start in order and stop in reverse. */
export interface NodePart {
  /** shown in the start-up times line (class names are used for parts that are classes) */
  label?: string
  start: () => Promise<void> | void
  stop: () => Promise<void> | void
}

export class ProcmeshNode {
  readonly config: Readonly<NodeConfig>
  readonly paths: HomePaths
  readonly log: Logger
  readonly handlers = new Map<string, RpcHandler>()
  private libp2pNode?: ProcmeshLibp2p
  private viewState?: MeshView
  private readonly parts: NodePart[] = []
  private started: NodePart[] = []
  private readonly sampler: SharedSampler
  private live?: LiveFigures
  private gossipStats?: AnnouncerStats
  private securityLayer?: NodeSecurity
  private reachKeeper?: ReachKeeper
  /** who may do what here; the security layer replaces the default */
  authorize: Authorizer = () => undefined
  /** start/stop/logs of processes; the supervisor replaces the default */
  processControl: ProcessControl = {
    start: async () => { throw new ProcmeshError('SERVER_ERROR', 'process control is not available on this node') },
    stop: async () => { throw new ProcmeshError('SERVER_ERROR', 'process control is not available on this node') },
    logs: async () => { throw new ProcmeshError('SERVER_ERROR', 'process control is not available on this node') },
    restart: async () => { throw new ProcmeshError('SERVER_ERROR', 'process control is not available on this node') },
    remove: async () => { throw new ProcmeshError('SERVER_ERROR', 'process control is not available on this node') },
    managedByPid: () => new Map(),
    managed: () => []
  }

  constructor (config: NodeConfig, log: Logger) {
    this.config = Object.freeze({ ...config, tags: Object.freeze({ ...config.tags }) })
    this.paths = homePaths(config.home)
    this.log = log
    this.sampler = new SharedSampler(new ProcessCollector({ thresholds: config.thresholds }))
  }

  get libp2p (): ProcmeshLibp2p {
    if (this.libp2pNode === undefined) throw new Error('node not started')
    return this.libp2pNode
  }

  get view (): MeshView {
    if (this.viewState === undefined) throw new Error('node not started')
    return this.viewState
  }

  /** mesh key, trust, audit, start policy (see security.ts) */
  get security (): NodeSecurity {
    if (this.securityLayer === undefined) throw new Error('node not started')
    return this.securityLayer
  }

  get peerId (): string {
    return this.libp2p.peerId.toString()
  }

  /** The latest snapshot of this host, sampled at most one interval ago. */
  latestSnapshot (): Snapshot | undefined {
    return this.sampler.latest
  }

  /** Addresses this node announces (loopback only when it listens on nothing else). */
  addrs (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  idInfo (): IdInfo {
    return { peerId: this.peerId, name: this.config.name, addrs: this.addrs() }
  }

  peers (): PeerEntry[] {
    const entries = this.view.entries(monoNow(), wallOf)
    const stats = this.gossipStats
    // this node's own entry says what it has gossiped (tests, the bench, a curious user)
    const withStats = stats === undefined ? entries : entries.map(e => e.self ? { ...e, gossip: { ...stats } } : e)
    // how this node reaches each member (reach.ts)
    return this.reachKeeper !== undefined ? this.reachKeeper.withReach(withStats) : withStats
  }

  /** Register an extra part (protocol service, supervisor ...) before start(). */
  addPart (part: NodePart): void {
    this.parts.push(part)
  }

  async start (): Promise<void> {
    // another user's home (keys, trust, links) is never used, as ssh refuses a foreign ~/.ssh
    assertOwnHome(this.config.home, { policyFile: this.config.policyFile })
    // start-up steps and their times, logged once: join is measured from process start
    const t0 = performance.now()
    const steps: string[] = []
    let last = t0
    const step = (label: string): void => {
      const now = performance.now()
      steps.push(`${label} ${Math.round(now - last)}`)
      last = now
    }
    await ensureHome(this.config.home)
    const control = new ControlServer(this.paths.socket, this.handlers, this.log)
    // refuse early when another node owns this home, before binding any port
    await control.assertFree()
    const { key, created } = await loadOrCreateIdentity(this.paths.identityKey)
    step('home+key')
    const security = await NodeSecurity.open({ paths: this.paths, nodeName: this.config.name, readonly: this.config.readonly, policyFile: this.config.policyFile, spawnPath: this.config.spawnEnv.PATH, log: this.log })
    this.securityLayer = security
    // bootstrap hosts keep their handshake slots while unknown hosts flood (issue 17 finding 4)
    security.addKnownAddrs(this.config.bootstrap)
    const listen = await resolveListen(this.config.listen)
    step('security+ports')
    // dials of peers known only from refused or failed discovery answers are refused for every
    // part of libp2p (the dialer exists once libp2p does: bound late)
    let dialPolicy: PeerDialer | undefined
    const gater = { ...security.gater, denyDialPeer: async (peer: PeerId) => (await security.gater.denyDialPeer?.(peer)) === true || dialPolicy?.refuses(peer) === true }
    const libp2p = await createProcmeshLibp2p({ privateKey: key, listen, mdns: this.config.mdns, psk: security.psk, gater })
    step('libp2p-create')
    this.libp2pNode = libp2p
    this.viewState = new MeshView(libp2p.peerId.toString())
    this.log.info('%s identity %s (%s)', created ? 'created' : 'loaded', libp2p.peerId.toString(), this.paths.identityKey)

    const view = this.viewState
    security.attach({ libp2p, nameOf: peerId => view.get(peerId)?.name })
    this.authorize = security.authorize
    const onConnect = (evt: CustomEvent<PeerId>): void => {
      view.connected(evt.detail.toString(), monoNow())
      // when the table is full, libp2p prunes the lowest-tagged (then idlest, newest) connections
      // first: peers the trust file knows are kept over unknown ones (issue 17 finding 11)
      if (security.trust.entry(evt.detail.toString()) !== undefined) {
        libp2p.peerStore.merge(evt.detail, { tags: { [KNOWN_PEER_TAG]: { value: KNOWN_PEER_TAG_VALUE } } }).catch((err: unknown) => { this.log.debug('tagging %s: %s', evt.detail.toString(), errorMessage(err)) })
      }
    }
    const onDisconnect = (evt: CustomEvent<{ toString: () => string }>): void => { view.disconnected(evt.detail.toString(), monoNow()) }
    const history = new HistoryRing(this.config.intervalMs)
    const recorder = this.config.historyRetentionMs <= 0 ? undefined : new HistoryRecorder({
      store: new HistoryStore({ dir: join(this.config.home, 'history'), retentionMs: this.config.historyRetentionMs, maxBytes: this.config.historyMaxBytes, log: this.log }),
      intervalMs: this.config.intervalMs,
      log: this.log,
      managed: () => this.processControl.managedByPid()
    })
    const supervisor = new Supervisor({
      logsDir: this.paths.logsDir,
      stateFile: join(this.config.home, 'starts.jsonl'),
      recordsFile: join(this.config.home, 'managed.json'),
      log: this.log,
      baseEnv: this.config.spawnEnv,
      onEvent: event => {
        recordSupervisorEvent(security, event)
        if (event.kind === 'exit') recorder?.noteManagedExit(event.info)
      }
    })
    this.processControl = {
      start: async (req, requestedBy) => await supervisor.startProcess(req, requestedBy),
      // the /proc readers cache the process table briefly: one set per stop request
      stop: async req => {
        // a managed process stopped through procmesh stays stopped: its policy does not restart it
        supervisor.noteStop(req.pid, req.startTime, req.signal)
        return await stopProcess(req, { ...createProcReaders(), selfPid: process.pid, parentPid: process.ppid, log: this.log })
      },
      logs: async (req, onChunk, signal) => await supervisor.logs(req.managedId, req.follow, onChunk, signal),
      restart: async (req, requestedBy) => await supervisor.restart(req.ref, requestedBy),
      remove: async (req, requestedBy) => await supervisor.remove(req.ref, requestedBy),
      managedByPid: () => supervisor.managedByPid(),
      managed: () => supervisor.managed()
    }
    const announcer = new SummaryAnnouncer({
      libp2p,
      view,
      sampler: this.sampler,
      onSnapshot: snap => { history.add(snap); recorder?.record(snap) },
      pullSummary: async peerId => await request(libp2p, peerIdFromString(peerId), SUMMARY, { type: 'summary' }),
      intervalMs: this.config.intervalMs,
      seqs: new SeqLease(join(this.config.home, 'gossip-seq')),
      identity: () => ({ peerId: this.peerId, name: this.config.name, tags: this.config.tags, intervalMs: this.config.intervalMs, addrs: announceOrder(announcedRelayAddrs(this.addrs(), id => view.get(id)?.addrs), MAX_SUMMARY_ADDRS) }),
      log: this.log
    })
    const dialer = new PeerDialer(libp2p, [...new Set([...this.config.bootstrap, ...security.bootstrapAddrs()])], this.log)
    dialPolicy = dialer
    // the view's addresses into the peer store, a connection to every member (reach.ts)
    const reach = new ReachKeeper({ libp2p, dialer, peers: () => view.entries(monoNow(), wallOf), selfAddrs: () => this.addrs(), log: this.log })
    this.reachKeeper = reach
    const services = new HostServices({
      sampler: this.sampler,
      history,
      recorder,
      // roles, --readonly, start policy and audit; the current processControl is looked up per call
      control: security.guard(() => this.processControl),
      nameOf: peerId => view.get(peerId)?.name
    })
    // deployments: specs in the home, replicas of the specs placed here run as managed processes
    const deploy = await openDeployService({
      home: this.config.home, libp2p, view, security, control: services.control, key, readonly: this.config.readonly,
      spawnPath: this.config.spawnEnv.PATH ?? '', log: this.log, self: () => ({ peerId: this.peerId, name: this.config.name, tags: this.config.tags }),
      // the prober below exists before the deploy part starts (it starts after the prober)
      probe: async peerId => await prober.probe(peerIdFromString(peerId))
    })
    const protocols = new MeshProtocols(libp2p, services, {
      authorize: (peer, role, protocol) => this.authorize(peer, role, protocol),
      onDenied: security.onDenied,
      log: this.log,
      selfSummary: () => view.get(this.peerId),
      extra: [deploy.servedProtocol()]
    })
    this.gossipStats = announcer.stats
    const prober = new LivenessProber({ libp2p, view, log: this.log })
    const healer = new GossipHealer(libp2p, this.log)
    const mdnsPacer = new MdnsPacer(libp2p, this.log)
    dialer.senderOf = peerId => mdnsPacer.senderOf(peerId)
    this.live = new LiveFigures({
      fetch: async (peerId, since) => await request(libp2p, peerIdFromString(peerId), HISTORY, { type: 'history', since }, { timeoutMs: 5000 }),
      log: this.log
    })
    this.registerBaseMethods()
    registerTargetMethods(this.handlers, { libp2p, services, peers: () => this.peers(), selfId: () => this.peerId, trustedName: id => security.trust.entry(id)?.name })
    security.registerMethods(this.handlers, { peers: () => this.peers(), addrs: () => this.addrs() })
    deploy.registerMethods(this.handlers)

    const core: NodePart[] = [
      // first: the announcer's first sample is recorded
      ...(recorder !== undefined ? [recorder] : []),
      // before libp2p: discovery events from its first mDNS query must find the dialer listening
      { label: 'dialer', start: () => { dialer.start() }, stop: () => { dialer.stop() } },
      // before libp2p too: duplicate connections are made and closed in its first second
      { label: 'gossip-healer', start: () => { healer.start() }, stop: () => { healer.stop() } },
      // this node's summary and protocols before libp2p listens: a peer that connects at once
      // pulls the summary straight away
      { label: 'first-sample', start: async () => { await announcer.prime() }, stop: () => {} },
      protocols,
      {
        label: 'libp2p-start',
        start: async () => {
          libp2p.addEventListener('peer:connect', onConnect)
          libp2p.addEventListener('peer:disconnect', onDisconnect)
          await libp2p.start()
        },
        stop: async () => {
          libp2p.removeEventListener('peer:connect', onConnect)
          libp2p.removeEventListener('peer:disconnect', onDisconnect)
          await libp2p.stop()
        }
      },
      announcer,
      { label: 'reach', start: () => { reach.start() }, stop: () => { reach.stop() } },
      prober,
      { label: 'mdns-pacer', start: () => { mdnsPacer.start() }, stop: () => { mdnsPacer.stop() } },
      security,
      supervisor,
      // after the supervisor: its first pass counts the copies the supervisor re-adopted
      { label: 'deploy', start: async () => { await deploy.start() }, stop: () => { deploy.stop() } },
      ...this.parts,
      control,
      {
        label: 'pid-file',
        start: async () => { await writeFile(this.paths.pidFile, `${process.pid}\n`, { mode: 0o600 }) },
        stop: async () => { await unlink(this.paths.pidFile).catch(() => {}) }
      }
    ]
    try {
      for (const part of core) {
        await part.start()
        this.started.push(part)
        step(part.label ?? part.constructor.name)
      }
    } catch (err: unknown) {
      await this.stop()
      throw err
    }
    this.log.info('node %s listening on %s', this.config.name, this.addrs().join(' ') || '(no addresses)')
    this.log.info('started in %d ms (ms per step: %s)', Math.round(performance.now() - t0), steps.filter(s => !s.endsWith(' 0')).join(', '))
  }

  async stop (): Promise<void> {
    const parts = this.started.reverse()
    this.started = []
    for (const part of parts) {
      try {
        await part.stop()
      } catch (err: unknown) {
        this.log.warn('stopping a part failed: %s', err instanceof Error ? err.message : String(err))
      }
    }
  }

  private registerBaseMethods (): void {
    handle(this.handlers, CONTROL_API.id, async () => this.idInfo())
    handle(this.handlers, CONTROL_API.peers, async ({ live }) => {
      const entries = this.peers()
      return live === undefined || this.live === undefined ? entries : this.live.overlay(entries, live, Date.now())
    })
  }
}

/** The supervisor's own doings in the audit log: every exit, and restarts the policy made. */
function recordSupervisorEvent (security: NodeSecurity, event: SupervisorEvent): void {
  const { info } = event
  if (event.kind === 'exit') {
    const how = info.exitedWhileDown
      ? 'exited while the node was down (exit status unknown)'
      : info.signal !== null ? `killed by ${info.signal}` : info.exitCode !== null ? `exited with code ${info.exitCode}` : 'exited (status unknown: not a child of this node)'
    const next = event.next === 'restart' ? `; restart in ${event.delayMs ?? 0} ms (policy ${info.policy.restart})` : event.next === 'crash-loop' ? `; crash loop: ${info.policy.maxRestarts} restart(s) spent, not restarted again` : ''
    security.recordSupervisorEvent('exit', { by: null, managedId: info.managedId, pid: info.pid, reason: `state ${info.state}`, result: `${how}${next}` })
  } else if (event.kind === 'restart' && event.by === null) {
    // restarts a peer asked for are audited by the guard with that peer
    security.recordSupervisorEvent('restart', { by: null, managedId: info.managedId, pid: info.pid, reason: event.reason, result: `started pid ${info.pid} (restart ${info.restarts})`, argv: info.argv })
  }
}
