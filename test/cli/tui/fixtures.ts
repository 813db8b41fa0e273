/** Small builders of peers, processes and states for the TUI tests and the bench. */
import type { PsEntry } from '../../../protocols/control.js'
import { copyName, type DeploymentStatus } from '../../../protocols/deploy.js'
import type { PeerEntry, ProcessInfo } from '../../../protocols/types.js'
import { initialState, reduce, type Action, type State } from '../../../cli/tui/state.js'

export const T0 = Date.UTC(2026, 10, 22, 12, 0, 0)

export function peer (name: string, over: Partial<PeerEntry> = {}): PeerEntry {
  return {
    peerId: `12D3KooW${name}`,
    name,
    status: 'online',
    lastSeen: T0,
    tags: {},
    addrs: [],
    self: false,
    host: { hostname: name, platform: 'linux', arch: 'x64', cpus: 4, cpuPercent: 10, load: [0.5, 0.4, 0.3], memTotal: 8 * 2 ** 30, memUsed: 2 * 2 ** 30, uptime: 3600 },
    procCount: 3,
    version: '0.1.0',
    topCpu: [],
    topMem: [],
    ...over
  }
}

export function proc (pid: number, ppid: number, name: string, over: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    pid,
    ppid,
    uid: 1000,
    user: 'alice',
    name,
    cmd: `/usr/bin/${name} --flag`,
    state: 'S',
    cpuPercent: 0,
    rss: 1024 * 1024,
    startTime: T0 - 60_000,
    ...over
  }
}

export function psEntry (p: PeerEntry, processes: ProcessInfo[]): PsEntry {
  return { peerId: p.peerId, name: p.name, collectedAt: T0, processes }
}

/** A tree on one host: 1 init > 10 sshd > 11 bash > 12 vim; 1 > 20 nginx > 21, 22 workers. */
export function sampleProcesses (): ProcessInfo[] {
  return [
    proc(1, 0, 'init', { user: 'root', cpuPercent: 0.1, rss: 10 * 2 ** 20 }),
    proc(10, 1, 'sshd', { user: 'root', cpuPercent: 0.2, rss: 5 * 2 ** 20 }),
    proc(11, 10, 'bash', { cpuPercent: 1, rss: 4 * 2 ** 20 }),
    proc(12, 11, 'vim', { cpuPercent: 3, rss: 20 * 2 ** 20 }),
    proc(20, 1, 'nginx', { user: 'www', cpuPercent: 5, rss: 30 * 2 ** 20, cmd: 'nginx: master process' }),
    proc(21, 20, 'nginx', { user: 'www', cpuPercent: 40, rss: 50 * 2 ** 20, cmd: 'nginx: worker process' }),
    proc(22, 20, 'nginx', { user: 'www', cpuPercent: 20, rss: 40 * 2 ** 20, cmd: 'nginx: worker process' })
  ]
}

export const SELF = peer('alpha', { self: true })
export const BETA = peer('beta', { host: { ...peer('beta').host, cpuPercent: 70 } })

/** Apply actions in order, collecting every effect. */
export function run (state: State, ...actions: Action[]): { state: State, effects: ReturnType<typeof reduce>['effects'] } {
  let s = state
  const effects: ReturnType<typeof reduce>['effects'] = []
  for (const a of actions) {
    const step = reduce(s, a)
    s = step.state
    effects.push(...step.effects)
  }
  return { state: s, effects }
}

/** A state with two hosts; alpha (self, selected) lists sampleProcesses, beta lists two. */
export function loadedState (): State {
  const s = initialState({ now: T0, cols: 160, rows: 45, connection: 'up' })
  return run(s,
    { type: 'peers', peers: [BETA, SELF] },
    { type: 'procs', entries: [psEntry(SELF, sampleProcesses())] }
  ).state
}

/** A deployment as `deployments` reports it: `web` by default, 2 copies wanted and running on alpha and beta. */
export function deployment (name: string, over: Partial<DeploymentStatus> = {}): DeploymentStatus {
  return {
    name,
    version: 1,
    hash: 'a'.repeat(64),
    author: '12D3KooWalpha',
    issuedAt: T0,
    argv: ['/usr/bin/web', '--port', '8080'],
    selector: 'tag:role=web',
    replicas: 2,
    spread: 1,
    restart: 'always',
    desired: 2,
    running: 2,
    old: 0,
    placed: [
      { host: 'alpha', peerId: '12D3KooWalpha', slot: 1, copy: copyName(name, 1, 1), state: 'running' },
      { host: 'beta', peerId: '12D3KooWbeta', slot: 1, copy: copyName(name, 1, 1), state: 'running' }
    ],
    problems: [],
    here: 'run',
    ...over
  }
}

/** `web` runs 2/2; `api` wants 3 but only one web host is left and one refuses it. */
export function deploymentsList (): DeploymentStatus[] {
  return [
    deployment('web'),
    deployment('api', {
      version: 4,
      replicas: 3,
      desired: 3,
      running: 1,
      placed: [
        { host: 'alpha', peerId: '12D3KooWalpha', slot: 1, copy: copyName('api', 4, 1), state: 'running' },
        { host: 'gamma', peerId: '12D3KooWgamma', slot: 1, copy: copyName('api', 4, 1), state: 'starting' }
      ],
      problems: ['only 2 of 3 replicas can be placed: 3 live host(s) match tag:role=web, 1 of them refuse the spec, at most one per host', 'beta refuses it: the author lacks exec here']
    })
  ]
}
