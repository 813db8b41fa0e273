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
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { errorMessage } from '../protocols/errors.js'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
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
import { createDeployService, holdsExec, openSpecStore } from './deploy/deploy-node.js'
import type { SpecStore } from './deploy/spec-store.js'
import { SharedSampler } from './host/sampler.js'
import { openNodeSecurity, type NodeSecurity } from './security/security.js'
import { guardProcessControl, recordSupervisorEvent } from './security/guard.js'
import { SecurityService } from './security/security-service.js'
import { registerSecurityMethods } from './security/security-methods.js'
import { Supervisor, type SupervisorEvent } from './host/supervisor.js'
import { createProcReaders, stopProcess } from './host/process-control.js'
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

/**
 * Dials libp2p must refuse for peers known only from refused or failed discovery answers
 * (issue 17 finding 10). The gater is built with libp2p, the dialer after it: bound late.
 */
export interface DialPolicy { dialer?: PeerDialer }

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

/** What must exist before the node's parts can be built: the outcome of the I/O in createProcmeshNode. */
export interface NodeComponents {
  config: Readonly<NodeConfig>
  paths: HomePaths
  log: Logger
  libp2p: ProcmeshLibp2p
  view: MeshView
  security: NodeSecurity
  /** the control socket's server, checked free (no other node owns this home) */
  control: ControlServer
  handlers: Map<string, RpcHandler>
  /** start-up steps done so far, for the start-up times line */
  startup: StartupClock
  /** the node's identity key (deployment specs are signed with it) */
  key: PrivateKey
  /** the deployment specs stored in the home, loaded */
  deploySpecs: SpecStore
  /** filled in by the node once its dialer exists */
  dialPolicy: DialPolicy
}

/** Start-up steps and their times, logged once: join is measured from process start. */
export class StartupClock {
  private readonly t0 = performance.now()
  private last = this.t0
  private readonly steps: string[] = []

  step (label: string): void {
    const now = performance.now()
    this.steps.push(`${label} ${Math.round(now - this.last)}`)
    this.last = now
  }

  line (): string {
    return `started in ${Math.round(performance.now() - this.t0)} ms (ms per step: ${this.steps.filter(s => !s.endsWith(' 0')).join(', ')})`
  }
}

/**
 * Do the I/O that must come first (the home and its owner, the control socket free, the
 * identity, the mesh key, trust and policy files, free ports, the libp2p node), then build
 * the node with every collaborator in place. Nothing listens until start().
 */
export async function createProcmeshNode (config: NodeConfig, log: Logger): Promise<ProcmeshNode> {
  const frozen: Readonly<NodeConfig> = Object.freeze({ ...config, tags: Object.freeze({ ...config.tags }) })
  // another user's home (keys, trust, links) is never used, as ssh refuses a foreign ~/.ssh
  assertOwnHome(frozen.home, { policyFile: frozen.policyFile })
  const startup = new StartupClock()
  const paths = homePaths(frozen.home)
  await ensureHome(frozen.home)
  const handlers = new Map<string, RpcHandler>()
  const control = new ControlServer(paths.socket, handlers, log)
  // refuse early when another node owns this home, before binding any port
  await control.assertFree()
  const { key, created } = await loadOrCreateIdentity(paths.identityKey)
  const selfId = peerIdFromPrivateKey(key).toString()
  startup.step('home+key')
  const view = new MeshView(selfId)
  const security = await openNodeSecurity({
    paths,
    nodeName: frozen.name,
    selfId,
    viewName: peerId => view.get(peerId)?.name,
    readonly: frozen.readonly,
    policyFile: frozen.policyFile,
    spawnPath: frozen.spawnEnv.PATH,
    // bootstrap hosts keep their handshake slots while unknown hosts flood (issue 17 finding 4)
    knownAddrs: frozen.bootstrap,
    log
  })
  const listen = await resolveListen(frozen.listen)
  startup.step('security+ports')
  const dialPolicy: DialPolicy = {}
  const gater = {
    ...security.gater,
    denyDialPeer: async (peer: PeerId) => (await security.gater.denyDialPeer?.(peer)) === true || dialPolicy.dialer?.refuses(peer) === true
  }
  const libp2p = await createProcmeshLibp2p({ privateKey: key, listen, mdns: frozen.mdns, psk: security.psk, gater })
  startup.step('libp2p-create')
  const deploySpecs = await openSpecStore(frozen.home, log, holdsExec(security, selfId))
  log.info('%s identity %s (%s)', created ? 'created' : 'loaded', selfId, paths.identityKey)
  return new ProcmeshNode({ config: frozen, paths, log, libp2p, view, security, control, handlers, startup, key, deploySpecs, dialPolicy })
}

export class ProcmeshNode {
  readonly config: Readonly<NodeConfig>
  readonly paths: HomePaths
  readonly log: Logger
  readonly handlers: Map<string, RpcHandler>
  readonly libp2p: ProcmeshLibp2p
  readonly view: MeshView
  /** mesh key, trust, audit, start policy (security/) */
  readonly security: NodeSecurity
  readonly peerId: string
  private readonly parts: readonly NodePart[]
  private started: NodePart[] = []
  private readonly sampler: SharedSampler
  private readonly live: LiveFigures
  private readonly gossipStats: AnnouncerStats
  private readonly reach: ReachKeeper
  private readonly startup: StartupClock
  /**
   * Resolves (with the reason) when the node must be rebuilt from its home: its mesh key was
   * rotated (rotate-key). The owner stops it and creates it anew; managed processes live on.
   */
  readonly restartNeeded: Promise<string>

  constructor (c: NodeComponents) {
    const { config, log, libp2p, view, security } = c
    this.config = config
    this.paths = c.paths
    this.log = log
    this.handlers = c.handlers
    this.libp2p = libp2p
    this.view = view
    this.security = security
    this.peerId = libp2p.peerId.toString()
    this.startup = c.startup
    this.sampler = new SharedSampler(new ProcessCollector({ thresholds: config.thresholds }))
    let requestRestart: (reason: string) => void = () => {}
    this.restartNeeded = new Promise(resolve => { requestRestart = resolve })
    const securityService = new SecurityService(security, libp2p, reason => { requestRestart(reason) })
    const onConnect = (evt: CustomEvent<PeerId>): void => {
      view.connected(evt.detail.toString(), monoNow())
      // when the table is full, libp2p prunes the lowest-tagged (then idlest, newest) connections
      // first: peers the trust file knows are kept over unknown ones (issue 17 finding 11)
      if (security.trust.entry(evt.detail.toString()) !== undefined) {
        libp2p.peerStore.merge(evt.detail, { tags: { [KNOWN_PEER_TAG]: { value: KNOWN_PEER_TAG_VALUE } } }).catch((err: unknown) => { log.debug('tagging %s: %s', evt.detail.toString(), errorMessage(err)) })
      }
    }
    const onDisconnect = (evt: CustomEvent<{ toString: () => string }>): void => { view.disconnected(evt.detail.toString(), monoNow()) }
    const history = new HistoryRing(config.intervalMs)
    const recorder = config.historyRetentionMs <= 0 ? undefined : new HistoryRecorder({
      store: new HistoryStore({ dir: join(config.home, 'history'), retentionMs: config.historyRetentionMs, maxBytes: config.historyMaxBytes, log }),
      intervalMs: config.intervalMs,
      log,
      managed: () => supervisor.managedByPid()
    })
    const supervisor = new Supervisor({
      logsDir: this.paths.logsDir,
      stateFile: join(config.home, 'starts.jsonl'),
      recordsFile: join(config.home, 'managed.json'),
      log,
      baseEnv: config.spawnEnv,
      nodeName: config.name,
      onEvent: event => {
        auditSupervisorEvent(security, event)
        if (event.kind === 'exit') recorder?.noteManagedExit(event.info)
      }
    })
    const processControl: ProcessControl = {
      start: async (req, requestedBy) => await supervisor.startProcess(req, requestedBy),
      // the /proc readers cache the process table briefly: one set per stop request
      stop: async req => {
        // a managed process stopped through procmesh stays stopped: its policy does not restart it
        supervisor.noteStop(req.pid, req.startTime, req.signal)
        return await stopProcess(req, { ...createProcReaders(), selfPid: process.pid, parentPid: process.ppid, log })
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
      intervalMs: config.intervalMs,
      seqs: new SeqLease(join(config.home, 'gossip-seq')),
      identity: () => ({ peerId: this.peerId, name: config.name, tags: config.tags, intervalMs: config.intervalMs, addrs: announceOrder(announcedRelayAddrs(this.addrs(), id => view.get(id)?.addrs), MAX_SUMMARY_ADDRS) }),
      log
    })
    const dialer = new PeerDialer(libp2p, [...new Set([...config.bootstrap, ...security.bootstrapAddrs()])], log)
    c.dialPolicy.dialer = dialer
    // the view's addresses into the peer store, a connection to every member (reach.ts)
    this.reach = new ReachKeeper({ libp2p, dialer, peers: () => view.entries(monoNow(), wallOf), selfAddrs: () => this.addrs(), log })
    const reach = this.reach
    const services = new HostServices({
      sampler: this.sampler,
      history,
      recorder,
      // roles, --readonly, start policy and audit
      control: guardProcessControl(security, processControl),
      nameOf: peerId => view.get(peerId)?.name
    })
    const prober = new LivenessProber({ libp2p, view, log })
    // deployments: specs in the home, replicas of the specs placed here run as managed processes
    const deploy = createDeployService({
      store: c.deploySpecs, libp2p, view, security, control: services.control, key: c.key, readonly: config.readonly,
      spawnPath: config.spawnEnv.PATH ?? '', log, self: () => ({ peerId: this.peerId, name: config.name, tags: config.tags }),
      probe: async peerId => await prober.probe(peerIdFromString(peerId))
    })
    const protocols = new MeshProtocols(libp2p, services, { ...security.serveOptions(), selfSummary: () => view.get(this.peerId), extra: [deploy.servedProtocol()] })
    this.gossipStats = announcer.stats
    const healer = new GossipHealer(libp2p, log)
    const mdnsPacer = new MdnsPacer(libp2p, log)
    dialer.senderOf = peerId => mdnsPacer.senderOf(peerId)
    this.live = new LiveFigures({
      fetch: async (peerId, since) => await request(libp2p, peerIdFromString(peerId), HISTORY, { type: 'history', since }, { timeoutMs: 5000 }),
      log
    })
    this.registerBaseMethods()
    registerTargetMethods(this.handlers, { libp2p, services, peers: () => this.peers(), selfId: () => this.peerId, trustedName: id => security.trust.entry(id)?.name })
    deploy.registerMethods(this.handlers)
    registerSecurityMethods(this.handlers, { security, switchAfter: (ms, reason) => { securityService.switchAfter(ms, reason) }, libp2p, peers: () => this.peers(), addrs: () => this.addrs(), viewName: id => view.get(id)?.name })

    this.parts = [
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
      security.reports,
      securityService,
      supervisor,
      // after the supervisor: its first pass counts the copies the supervisor re-adopted
      { label: 'deploy', start: async () => { await deploy.start() }, stop: () => { deploy.stop() } },
      c.control,
      {
        label: 'pid-file',
        start: async () => { await writeFile(this.paths.pidFile, `${process.pid}\n`, { mode: 0o600 }) },
        stop: async () => { await unlink(this.paths.pidFile).catch(() => {}) }
      }
    ]
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
    const withStats = entries.map(e => e.self ? { ...e, gossip: { ...stats } } : e)
    // how this node reaches each member (reach.ts)
    return this.reach.withReach(withStats)
  }

  /** Start the parts in order; when one fails, stop those started and throw. Once only. */
  async start (): Promise<void> {
    if (this.started.length > 0) return
    try {
      for (const part of this.parts) {
        await part.start()
        this.started.push(part)
        this.startup.step(part.label ?? part.constructor.name)
      }
    } catch (err: unknown) {
      await this.stop()
      throw err
    }
    this.log.info('node %s listening on %s', this.config.name, this.addrs().join(' ') || '(no addresses)')
    this.log.info('%s', this.startup.line())
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
      return live === undefined ? entries : this.live.overlay(entries, live, Date.now())
    })
  }
}

/** The supervisor's own doings in the audit log: every exit, and restarts the policy made. */
function auditSupervisorEvent (security: NodeSecurity, event: SupervisorEvent): void {
  const { info } = event
  if (event.kind === 'exit') {
    const how = info.exitedWhileDown
      ? 'exited while the node was down (exit status unknown)'
      : info.signal !== null ? `killed by ${info.signal}` : info.exitCode !== null ? `exited with code ${info.exitCode}` : 'exited (status unknown: not a child of this node)'
    const next = event.next === 'restart' ? `; restart in ${event.delayMs ?? 0} ms (policy ${info.policy.restart})` : event.next === 'crash-loop' ? `; crash loop: ${info.policy.maxRestarts} restart(s) spent, not restarted again` : ''
    recordSupervisorEvent(security, 'exit', { by: null, managedId: info.managedId, pid: info.pid, reason: `state ${info.state}`, result: `${how}${next}` })
  } else if (event.kind === 'restart' && event.by === null) {
    // restarts a peer asked for are audited by the guard with that peer
    recordSupervisorEvent(security, 'restart', { by: null, managedId: info.managedId, pid: info.pid, reason: event.reason, result: `started pid ${info.pid} (restart ${info.restarts})`, argv: info.argv })
  }
}
